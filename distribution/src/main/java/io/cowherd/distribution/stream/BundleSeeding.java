package io.cowherd.distribution.stream;

import io.cowherd.CopyProgress;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.seeder.InitialSeeder;
import java.net.URI;
import java.util.List;

/**
 * Seeding a local bundle so that the hosts that stream it ({@link MasterStream}) boot soon, with the
 * same choices on every path (this API and {@code cowherd seed}): a bundle that carries a boot
 * profile is cut into smaller pieces ({@link Metainfo#choosePieceLengthForStreaming}: a boot waits
 * for whole pieces), and an initial seed offers the manifest, the profile and the pieces under the
 * profile's reads before any other ({@link ProfilePieces#ofBundle}: a peer cannot ask an initial seed
 * for a piece it was not offered). A bundle without a profile is seeded as any other content.
 *
 * <pre>{@code
 * Bundle golden = Bundle.open(Path.of("/srv/bundles/golden"));
 * Metainfo m = BundleSeeding.metainfo(golden, List.of(tracker.announceUrl()), 0, "me", CopyProgress.NONE);
 * InitialSeeder seed = BundleSeeding.initialSeed(golden, m, SessionOptions.on(address));
 * }</pre>
 */
public final class BundleSeeding {
    private BundleSeeding() {
    }

    /**
     * The piece length the bundle's torrent gets unless one is given: for streaming if the bundle
     * carries a boot profile, else by the usual rule ({@link Metainfo#choosePieceLength}).
     */
    public static int pieceLength(Bundle bundle) {
        long size = bundle.manifest().totalSize();
        return bundle.manifest().bootProfile().isPresent() ? Metainfo.choosePieceLengthForStreaming(size)
                : Metainfo.choosePieceLength(size);
    }

    /**
     * The metainfo of {@code bundle}'s directory (a multi-file torrent named after it), in pieces of
     * {@code pieceLength} bytes, or of {@link #pieceLength(Bundle)} when it is 0.
     */
    public static Metainfo metainfo(Bundle bundle, List<URI> trackers, int pieceLength, String createdBy,
            CopyProgress progress) {
        return Metainfo.create(bundle.directory(), trackers, pieceLength > 0 ? pieceLength : pieceLength(bundle), createdBy,
                progress);
    }

    /**
     * Starts an initial seed of {@code bundle} with its torrent {@code m} ({@link InitialSeeder#start}),
     * offering what a streaming host reads first before the rest.
     *
     * @throws io.cowherd.distribution.bundle.BundleIntegrityException if {@code m} lacks a file the
     *     bundle's manifest lists, or the profile is malformed
     */
    public static InitialSeeder initialSeed(Bundle bundle, Metainfo m, SessionOptions options) {
        return InitialSeeder.start(m, bundle.directory().toAbsolutePath().getParent(), options, ProfilePieces.ofBundle(bundle, m));
    }
}
