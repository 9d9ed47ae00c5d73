package io.cowherd.distribution.bundle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.CorruptFileException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The boot profile file: written and read back, hostile files refused by line, bundles that check it. */
class BootProfileTest {
    @TempDir
    Path dir;

    private static final BootProfile PROFILE = new BootProfile(List.of(new BootProfile.Read("disk.raw", 0, 4096),
            new BootProfile.Read("disk.raw", 1 << 20, 65536), new BootProfile.Read("disk2.qcow2", 512, 1)));

    @Test
    void aProfileReadsBackAsItWasWritten() {
        Path f = dir.resolve("p");
        PROFILE.save(f);
        assertEquals(PROFILE, BootProfile.read(f));
        assertEquals(PROFILE, BootProfile.parse(PROFILE.toBytes(), f));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "cowherd-boot-profile\t2\n", "not a profile\n",
        "cowherd-boot-profile\t1\ndisk.raw\t0\n", "cowherd-boot-profile\t1\ndisk.raw\t0\t1\textra\n",
        "cowherd-boot-profile\t1\ndisk.raw\t-1\t1\n", "cowherd-boot-profile\t1\ndisk.raw\t0\t0\n",
        "cowherd-boot-profile\t1\ndisk.raw\t9223372036854775807\t1\n", "cowherd-boot-profile\t1\ndisk.raw\tx\t1\n",
        "cowherd-boot-profile\t1\n\t0\t1\n", "cowherd-boot-profile\t1\ndisk.raw\t0\t99999999999999999999\n"})
    void hostileProfilesAreRefusedNamingTheLine(String text) {
        CorruptFileException e = assertThrows(CorruptFileException.class,
                () -> BootProfile.parse(text.getBytes(StandardCharsets.UTF_8), dir.resolve("p")));
        assertTrue(e.getMessage().contains("boot-profile"), e.getMessage());
        if (text.startsWith("cowherd-boot-profile\t1\n")) {
            assertTrue(e.getMessage().contains("line 2"), "names the line: " + e.getMessage());
        }
    }

    @Test
    void aBundleCarriesAProfileWhoseReadsLieInItsDisksAndRefusesOtherwiseLeavingNothing() throws Exception {
        Path disk = Files.write(dir.resolve("disk.raw"), new byte[2 << 20]);
        Path good = dir.resolve("good");
        new BootProfile(List.of(new BootProfile.Read("disk.raw", 0, 4096), new BootProfile.Read("disk.raw", (2 << 20) - 1, 1)))
                .save(good);
        Bundle b = Bundle.builder().disk(disk, "raw").bootProfile(good).create(dir.resolve("b"));
        BundleFile f = b.manifest().files().stream().filter(x -> x.role() == FileRole.BOOT_PROFILE).findFirst().orElseThrow();
        assertEquals(BootProfile.FILE_NAME, f.name());
        assertEquals(BootProfile.read(good), BootProfile.read(b.path(f)));
        b.verify();
        assertEquals(b.manifest(), Bundle.open(dir.resolve("b")).manifest(), "the manifest reads back with the new role");

        Path past = dir.resolve("past");
        new BootProfile(List.of(new BootProfile.Read("disk.raw", 2 << 20, 1))).save(past);
        CorruptFileException e = assertThrows(CorruptFileException.class,
                () -> Bundle.builder().disk(disk, "raw").bootProfile(past).create(dir.resolve("c")));
        assertTrue(e.getMessage().contains("read 1") && e.getMessage().contains("past the end"), e.getMessage());
        Path other = dir.resolve("other");
        new BootProfile(List.of(new BootProfile.Read("nope.raw", 0, 1))).save(other);
        e = assertThrows(CorruptFileException.class, () -> Bundle.builder().disk(disk, "raw").bootProfile(other).create(dir.resolve("c")));
        assertTrue(e.getMessage().contains("not a disk of the bundle"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("c")), "a refused bundle leaves nothing");
        try (var s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".c.tmp")), "no temporary directory left");
        }
    }
}
