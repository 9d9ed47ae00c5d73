package io.cowherd.distribution.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cowherd.distribution.nbd.NbdTestFiles.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real NBD clients read our exports: QEMU's (qemu-img, qemu-io) and libnbd's (nbdinfo, nbdcopy). */
class NbdQemuPeersTest {
    @TempDir
    Path dir;
    Path source;
    Path small;
    FileExportSource src;
    FileExportSource smallSrc;
    NbdServer server;

    @BeforeEach
    void serve() throws Exception {
        source = NbdTestFiles.dataAndHoles(dir);
        small = Files.write(dir.resolve("small.raw"), "hello, nbd".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        src = FileExportSource.open(source);
        smallSrc = FileExportSource.open(small);
        server = NbdServer.start(dir.resolve("nbd.sock"), List.of(
                new NbdExport("master", "the master image", src),
                new NbdExport("small", "", smallSrc)));
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        src.close();
        smallSrc.close();
    }

    @Test
    void qemuImgCompareFindsTheExportIdenticalToItsFile() throws Exception {
        assumeTrue(NbdTestFiles.has("qemu-img"), "qemu-img is not installed (scripts/install-test-peers.sh)");
        Run r = NbdTestFiles.run("qemu-img", "compare", "-f", "raw", "-F", "raw", source.toString(), server.uri("master"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("identical"), r.output());
    }

    @Test
    void qemuImgConvertCopiesTheExportByteForByte() throws Exception {
        assumeTrue(NbdTestFiles.has("qemu-img"), "qemu-img is not installed (scripts/install-test-peers.sh)");
        Path copy = dir.resolve("copy.raw");
        Run r = NbdTestFiles.run("qemu-img", "convert", "-f", "raw", "-O", "raw", server.uri("master"), copy.toString());
        assertEquals(0, r.exit(), r.output());
        // qemu rounds an export's size up to whole sectors; the bytes it has must be ours, the rest zeros.
        byte[] want = Files.readAllBytes(source);
        byte[] got = Files.readAllBytes(copy);
        assertTrue(got.length >= want.length && got.length - want.length < 512, "copy is " + got.length + " bytes");
        assertArrayEquals(want, java.util.Arrays.copyOf(got, want.length));
    }

    @Test
    void qemuIoReadsPatternsDataAndHoles() throws Exception {
        assumeTrue(NbdTestFiles.has("qemu-io"), "qemu-io is not installed (scripts/install-test-peers.sh)");
        Run r = NbdTestFiles.run("qemu-io", "-r", "-f", "raw", server.uri("master"),
                "-c", "read -P 0xab " + NbdTestFiles.PATTERN_AT + " 65536",
                "-c", "read -P 0 " + (2L << 20) + " 65536",
                "-c", "read -v 0 16");
        assertEquals(0, r.exit(), r.output());
        assertTrue(!r.output().contains("Pattern verification failed") && !r.output().contains("failed"), r.output());
        byte[] head = java.util.Arrays.copyOf(Files.readAllBytes(source), 16);
        StringBuilder hex = new StringBuilder();
        for (byte b : head) {
            hex.append(String.format("%02x ", b));
        }
        assertTrue(r.output().contains(hex.toString().trim()), "expected " + hex + " in\n" + r.output());
        Run small = NbdTestFiles.run("qemu-io", "-r", "-f", "raw", server.uri("small"), "-c", "read -v 0 10");
        assertEquals(0, small.exit(), small.output());
        assertTrue(small.output().contains("68 65 6c 6c 6f 2c 20 6e 62 64"), small.output());
    }

    @Test
    void aWriteThroughQemuIoIsRefusedAndTheFileUnchanged() throws Exception {
        assumeTrue(NbdTestFiles.has("qemu-io"), "qemu-io is not installed (scripts/install-test-peers.sh)");
        byte[] before = Files.readAllBytes(source);
        Run r = NbdTestFiles.run("qemu-io", "-f", "raw", server.uri("master"), "-c", "write -P 0x55 0 4096");
        // qemu either refuses to open a read-only export for writing or gets EPERM for the write.
        assertTrue(r.exit() != 0 || r.output().toLowerCase(java.util.Locale.ROOT).contains("read-only")
                || r.output().contains("failed"), r.output());
        assertTrue(!r.output().contains("wrote 4096/4096"), r.output());
        assertArrayEquals(before, Files.readAllBytes(source));
    }

    @Test
    void nbdinfoListsAndDescribesTheExports() throws Exception {
        assumeTrue(NbdTestFiles.has("nbdinfo"), "nbdinfo is not installed (libnbd-bin; scripts/install-test-peers.sh)");
        Run list = NbdTestFiles.run("nbdinfo", "--list", "nbd+unix:///?socket=" + server.socket());
        assertEquals(0, list.exit(), list.output());
        assertTrue(list.output().contains("master") && list.output().contains("small"), list.output());
        assertTrue(list.output().contains("the master image"), list.output());
        Run one = NbdTestFiles.run("nbdinfo", server.uri("master"));
        assertEquals(0, one.exit(), one.output());
        assertTrue(one.output().contains("export-size: " + NbdTestFiles.SIZE), one.output());
        assertTrue(one.output().contains("is_read_only: true"), one.output());
        assertTrue(one.output().contains("can_multi_conn: true"), one.output());
        assertTrue(one.output().contains("block_size_maximum: " + NbdLimits.DEFAULT_MAX_PAYLOAD), one.output());
        Run missing = NbdTestFiles.run("nbdinfo", server.uri("nope"));
        assertNotEquals(0, missing.exit(), missing.output());
    }

    @Test
    void nbdcopyCopiesTheExactBytes() throws Exception {
        assumeTrue(NbdTestFiles.has("nbdcopy"), "nbdcopy is not installed (libnbd-bin; scripts/install-test-peers.sh)");
        Path copy = dir.resolve("nbdcopy.raw");
        Files.createFile(copy);
        Run r = NbdTestFiles.run("nbdcopy", server.uri("master"), copy.toString());
        assertEquals(0, r.exit(), r.output());
        assertArrayEquals(Files.readAllBytes(source), Files.readAllBytes(copy));
    }
}
