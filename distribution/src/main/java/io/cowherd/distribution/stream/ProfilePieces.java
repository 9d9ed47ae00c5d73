package io.cowherd.distribution.stream;

import io.cowherd.distribution.bundle.BootProfile;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.bundle.BundleFile;
import io.cowherd.distribution.bundle.BundleIntegrityException;
import io.cowherd.distribution.bundle.BundleManifest;
import io.cowherd.distribution.torrent.Metainfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pieces of a bundle's torrent under its boot profile's reads, in the order of the reads: what
 * a streaming fetch asks for first ({@link MasterStream}) and, after the manifest and the profile
 * themselves, what an initial seed offers first ({@code cowherd seed --initial-seeding} of a bundle
 * with a profile), so that every host's boot set leaves the seed before the rest of the master.
 */
public final class ProfilePieces {
    private static final Logger LOG = LoggerFactory.getLogger(ProfilePieces.class);

    private ProfilePieces() {
    }

    /**
     * The pieces of {@code m} under {@code profile}'s reads, each once, in the order of the reads.
     * Reads of a disk not in {@code disks} (a disk's name, its place in the torrent) or past its end
     * are skipped with a warning naming {@code where}: the bundle's author checked them, a hostile
     * one did not.
     */
    static List<Integer> of(Metainfo m, BootProfile profile, Map<String, Metainfo.FileEntry> disks, Path where) {
        LinkedHashSet<Integer> pieces = new LinkedHashSet<>();
        int skipped = 0;
        for (BootProfile.Read r : profile.reads()) {
            Metainfo.FileEntry disk = disks.get(r.disk());
            if (disk == null || r.offset() + r.length() > disk.length()) {
                skipped++;
                continue;
            }
            long from = disk.offset() + r.offset();
            long to = from + r.length() - 1;
            for (long p = from / m.pieceLength(); p <= to / m.pieceLength(); p++) {
                pieces.add((int) p);
            }
        }
        if (skipped > 0) {
            LOG.warn("{}: {} of the boot profile's {} reads name no disk of the bundle or lie past its end; skipped", where,
                    skipped, profile.reads().size());
        }
        return new ArrayList<>(pieces);
    }

    /**
     * What a host that streams the local bundle {@code bundle} (its torrent {@code m}) reads first, as
     * pieces in order: the manifest's and the boot profile's own pieces (a stream reads them before it
     * serves anything), then those under the profile's reads; empty if the bundle has no profile.
     *
     * @throws BundleIntegrityException if the torrent lacks a disk or the profile the manifest lists,
     *     or the profile is malformed
     */
    public static List<Integer> ofBundle(Bundle bundle, Metainfo m) {
        Optional<BundleFile> profile = bundle.manifest().bootProfile();
        if (profile.isEmpty()) {
            return List.of();
        }
        Map<String, Metainfo.FileEntry> disks = new HashMap<>();
        for (BundleFile disk : bundle.manifest().disks()) {
            disks.put(disk.name(), entry(m, disk.name(), bundle.path(disk)));
        }
        Path where = bundle.path(profile.get());
        LinkedHashSet<Integer> pieces = new LinkedHashSet<>();
        for (Metainfo.FileEntry f : List.of(entry(m, BundleManifest.FILE_NAME, bundle.directory().resolve(BundleManifest.FILE_NAME)),
                entry(m, profile.get().name(), where))) {
            for (long p = f.offset() / m.pieceLength(); p <= (f.offset() + Math.max(1, f.length()) - 1) / m.pieceLength(); p++) {
                pieces.add((int) p);
            }
        }
        pieces.addAll(of(m, BootProfile.read(where), disks, where));
        return new ArrayList<>(pieces);
    }

    private static Metainfo.FileEntry entry(Metainfo m, String name, Path where) {
        Metainfo.FileEntry f = m.topLevelFile(name);
        if (f == null) {
            throw new BundleIntegrityException(where, "file", "the manifest lists it, the torrent does not");
        }
        return f;
    }
}
