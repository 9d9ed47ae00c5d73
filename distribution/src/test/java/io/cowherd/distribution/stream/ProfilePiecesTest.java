package io.cowherd.distribution.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cowherd.distribution.bundle.BootProfile;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.bundle.BundleIntegrityException;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.SwarmFixture;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a host streaming a bundle reads first, as pieces: what an initial seed offers first. */
class ProfilePiecesTest {
    private static final List<URI> TRACKER = List.of(URI.create("http://127.0.0.1:1/announce"));

    @TempDir
    Path tmp;

    @Test
    void theManifestAndProfileFirstThenTheReadsPiecesInTheirOrderEachOnce() throws Exception {
        Path disk = SwarmFixture.randomFile(tmp.resolve("src/disk.raw"), 1L << 20, 3);
        Path profile = tmp.resolve("src/profile");
        new BootProfile(List.of(new BootProfile.Read("disk.raw", 600_000, 100), new BootProfile.Read("disk.raw", 0, 40_000),
                new BootProfile.Read("disk.raw", 4096, 10), new BootProfile.Read("disk.raw", 600_010, 10))).save(profile);
        Bundle bundle = Bundle.builder().disk(disk, "raw").bootProfile(profile).create(tmp.resolve("b/golden"));
        Metainfo m = Metainfo.create(bundle.directory(), TRACKER, 16 << 10, "test");
        long at = m.topLevelFile("disk.raw").offset();
        assertEquals(Files.size(bundle.directory().resolve("boot-profile")) + Files.size(bundle.directory().resolve(
                "cowherd-bundle.manifest")), at, "the disk comes after the profile and the manifest");
        int p = 16 << 10;
        // first the piece that holds the profile and the manifest, then the reads' (the last two fall
        // in pieces already named)
        List<Integer> expected = new java.util.ArrayList<>(List.of(0, (int) ((at + 600_000) / p)));
        for (long i = at / p + 1; i <= (at + 39_999) / p; i++) {
            expected.add((int) i);
        }
        assertEquals(expected, ProfilePieces.ofBundle(bundle, m));
    }

    @Test
    void aBundleWithoutAProfileHasNone() throws Exception {
        Path disk = SwarmFixture.randomFile(tmp.resolve("src/disk.raw"), 1L << 20, 4);
        Bundle bundle = Bundle.builder().disk(disk, "raw").create(tmp.resolve("b/golden"));
        assertEquals(List.of(), ProfilePieces.ofBundle(bundle, Metainfo.create(bundle.directory(), TRACKER, 16 << 10, "test")));
    }

    @Test
    void aTorrentOfOtherFilesIsRefusedNamingTheFile() throws Exception {
        Path disk = SwarmFixture.randomFile(tmp.resolve("src/disk.raw"), 1L << 20, 5);
        Path profile = tmp.resolve("src/profile");
        new BootProfile(List.of(new BootProfile.Read("disk.raw", 0, 4096))).save(profile);
        Bundle bundle = Bundle.builder().disk(disk, "raw").bootProfile(profile).create(tmp.resolve("b/golden"));
        Metainfo other = Metainfo.create(disk, TRACKER, 16 << 10, "test");
        BundleIntegrityException e = assertThrows(BundleIntegrityException.class, () -> ProfilePieces.ofBundle(bundle, other));
        assertEquals(true, e.getMessage().contains("disk.raw"), e.getMessage());
    }
}
