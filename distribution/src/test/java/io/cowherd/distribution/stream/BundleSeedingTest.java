package io.cowherd.distribution.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.CopyProgress;
import io.cowherd.distribution.bundle.BootProfile;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.OpenResources;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.SwarmFixture;
import io.cowherd.distribution.torrent.TorrentSession;
import io.cowherd.distribution.torrent.libtorrent.LibtorrentEngine;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Seeding a bundle through the API makes the choices {@code cowherd seed} makes, for streaming hosts. */
@Timeout(120)
class BundleSeedingTest {
    private static final List<URI> TRACKER = List.of(URI.create("http://127.0.0.1:1/announce"));

    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    /** 300 MiB: 256 KiB pieces by the usual rule, 128 KiB for streaming; a given length decides. */
    @Test
    void aBundleWithABootProfileIsCutIntoSmallerPieces() throws Exception {
        Path disk = Files.createDirectories(tmp.resolve("src")).resolve("disk.raw");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(300L << 20); // sparse
        }
        Path profile = tmp.resolve("src/profile");
        new BootProfile(List.of(new BootProfile.Read("disk.raw", 0, 4096))).save(profile);
        Bundle streamed = Bundle.builder().disk(disk, "raw").bootProfile(profile).create(tmp.resolve("b/streamed"));
        Bundle plain = Bundle.builder().disk(disk, "raw").create(tmp.resolve("b/plain"));

        assertEquals(128 << 10, BundleSeeding.metainfo(streamed, TRACKER, 0, "test", CopyProgress.NONE).pieceLength());
        assertEquals(256 << 10, BundleSeeding.metainfo(plain, TRACKER, 0, "test", CopyProgress.NONE).pieceLength());
        assertEquals(Metainfo.choosePieceLength(plain.manifest().totalSize()), BundleSeeding.pieceLength(plain));
        assertEquals(1 << 20, BundleSeeding.metainfo(streamed, TRACKER, 1 << 20, "test", CopyProgress.NONE).pieceLength());
    }

    /**
     * An initial seed of a bundle offers what a streaming host reads first (the manifest, the
     * profile, the pieces under the profile's reads, here near the disk's end) before the others:
     * when a fetch holds those, it holds few others.
     */
    @Test
    void anInitialSeedOfABundleOffersTheProfilesPiecesFirst() throws Exception {
        Path disk = SwarmFixture.randomFile(tmp.resolve("src/disk.raw"), 8L << 20, 61);
        Path profile = tmp.resolve("src/profile");
        new BootProfile(List.of(new BootProfile.Read("disk.raw", (7L << 20) + 100, 300_000),
                new BootProfile.Read("disk.raw", 3L << 20, 4096))).save(profile);
        Bundle bundle = Bundle.builder().disk(disk, "raw").bootProfile(profile).create(tmp.resolve("seed/golden"));
        EmbeddedTracker tracker = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
        Metainfo m = BundleSeeding.metainfo(bundle, List.of(tracker.announceUrl()), 128 << 10, "test", CopyProgress.NONE);
        tracker.track(m);
        List<Integer> first = ProfilePieces.ofBundle(bundle, m);
        assertEquals(5, first.size(), "the piece of the manifest and the profile, three at 7 MiB, one at 3 MiB: " + first);

        open.keep(BundleSeeding.initialSeed(bundle, m, SessionOptions.on(SwarmFixture.host()).withRateLimits(0, 1L << 20)));
        TorrentSession fetch = open.keep(new LibtorrentEngine().fetch(m, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())));
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!first.stream().allMatch(fetch::havePiece) && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        List<Integer> held = IntStream.range(0, m.pieceCount()).filter(fetch::havePiece).boxed().toList();
        assertTrue(held.containsAll(first), "the profile's pieces arrived: " + held);
        // in index order they would come last, with nearly all 65 pieces held
        assertTrue(held.size() <= first.size() + 8, "few other pieces came before them: " + held);
    }
}
