package io.cowherd.qcow2;

import io.cowherd.internal.io.HostFile;
import static io.cowherd.qcow2.QemuTool.ok;
import static io.cowherd.qcow2.QemuTool.qemuIo;
import static io.cowherd.qcow2.QemuTool.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.ImagePolicy;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.RawFormat;
import io.cowherd.spi.CheckReport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The qcow2 engine's operations against QEMU: compressed and snapshot images read right and
 * stay intact when written, zeroing and discarding, refcount table growth, check agreeing with
 * {@code qemu-img check}, commit, rebase, resize, and compressed or backing-relative convert.
 */
class Qcow2OperationsQemuTest {
    private static final ImagePolicy POLICY = ImagePolicy.operator();
    private final Qcow2Format format = new Qcow2Format();

    @TempDir
    Path dir;

    private Path p(String name) {
        return dir.resolve(name);
    }

    private byte[] qemuRaw(Path image) throws Exception {
        return qemuRaw(image, null);
    }

    private byte[] qemuRaw(Path image, String snapshot) throws Exception {
        Path raw = dir.resolve(image.getFileName() + "." + System.nanoTime() + ".raw");
        if (snapshot == null) {
            ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", image.toString(), raw.toString());
        } else {
            ok("qemu-img", "convert", "-f", "qcow2", "-l", "snapshot.name=" + snapshot, "-O", "raw", image.toString(),
                    raw.toString());
        }
        byte[] b = Files.readAllBytes(raw);
        Files.delete(raw);
        return b;
    }

    private static byte[] ours(Path image) throws IOException {
        try (VirtualDisk d = Qcow2Image.open(image, POLICY, false, 0)) {
            ByteBuffer b = ByteBuffer.allocate((int) d.size());
            d.readFully(b, 0);
            return b.array();
        }
    }

    private static int qemuCheck(Path image) throws Exception {
        return run("qemu-img", "check", "-f", "qcow2", image.toString()).exit();
    }

    private static void assertClean(Path image) throws Exception {
        io.cowherd.testkit.PeerTool.Result r = run("qemu-img", "check", "-f", "qcow2", image.toString());
        assertEquals(0, r.exit(), r.output());
    }

    private static void writeRandom(VirtualDisk d, byte[] expect, long seed, int count, int maxLen) throws IOException {
        Random r = new Random(seed);
        for (int i = 0; i < count; i++) {
            int len = 1 + r.nextInt(maxLen);
            int at = r.nextInt(expect.length - len);
            byte[] data = new byte[len];
            r.nextBytes(data);
            d.write(ByteBuffer.wrap(data), at);
            System.arraycopy(data, 0, expect, at, len);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"zlib", "zstd"})
    void compressedImagesReadIdenticalAndWritesStayClean(String type) throws Exception {
        ok("qemu-img", "create", "-q", "-f", "qcow2", p("plain.qcow2").toString(), "6M");
        qemuIo(p("plain.qcow2").toString(), "write -P 0x61 0 2M", "write -P 0x62 3M 1234567");
        ok("qemu-img", "convert", "-c", "-f", "qcow2", "-O", "qcow2", "-o", "compression_type=" + type,
                p("plain.qcow2").toString(), p("c.qcow2").toString());
        byte[] expect = qemuRaw(p("c.qcow2"));
        assertArrayEquals(expect, ours(p("c.qcow2")));
        try (VirtualDisk d = format.open(p("c.qcow2"), POLICY, true, 0)) {
            writeRandom(d, expect, 3, 30, 100_000);
        }
        assertClean(p("c.qcow2"));
        assertArrayEquals(expect, qemuRaw(p("c.qcow2")));
    }

    @Test
    void internalSnapshotsAreReadAndKeptIntact() throws Exception {
        Path img = p("snap.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", img.toString(), "4M");
        qemuIo(img.toString(), "write -P 0x11 0 4M");
        ok("qemu-img", "snapshot", "-c", "s1", img.toString());
        byte[] s1 = qemuRaw(img);
        qemuIo(img.toString(), "write -P 0x22 100000 300000");
        byte[] active = qemuRaw(img);
        assertArrayEquals(active, ours(img));
        try (VirtualDisk d = format.open(img, POLICY, true, 0)) {
            writeRandom(d, active, 9, 40, 50_000);
            d.discard(2 << 20, 1 << 20);
            Arrays.fill(active, 2 << 20, 3 << 20, (byte) 0);
        }
        assertClean(img);
        assertArrayEquals(active, qemuRaw(img));
        assertArrayEquals(s1, qemuRaw(img, "s1"), "the snapshot is intact");
    }

    @Test
    void zeroesAndDiscardsInClonesAndStandaloneImages() throws Exception {
        Path base = p("base.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "3M");
        qemuIo(base.toString(), "write -P 0x33 0 3M");
        Path top = p("top.qcow2");
        format.createOverlay(top, base, "qcow2", 3 << 20);
        byte[] expect = qemuRaw(top);
        try (VirtualDisk d = format.open(top, POLICY, true, 0)) {
            d.write(ByteBuffer.wrap(new byte[70000]).put(0, (byte) 1), 5000);
            expect[5000] = 1;
            Arrays.fill(expect, 5001, 75000, (byte) 0);
            d.writeZeroes(65536, 3 * 65536 + 17);
            Arrays.fill(expect, 65536, 4 * 65536 + 17, (byte) 0);
            d.discard(1 << 20, 1 << 20);
            Arrays.fill(expect, 1 << 20, 2 << 20, (byte) 0);
        }
        assertClean(top);
        assertArrayEquals(expect, qemuRaw(top));
        assertArrayEquals(expect, ours(top));
        String map = ok("qemu-img", "map", "--output=json", "-f", "qcow2", top.toString());
        assertTrue(map.contains("\"zero\": true"), map);
    }

    @Test
    void refcountTableGrowsWhenTheImageOutgrowsIt() throws Exception {
        Path img = p("tiny-clusters.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", img.toString(), "24M");
        String before = ok("qemu-img", "info", "--output=json", img.toString());
        byte[] expect = new byte[24 << 20];
        try (VirtualDisk d = format.open(img, POLICY, true, 0)) {
            byte[] chunk = new byte[1 << 20];
            Random r = new Random(4);
            for (int i = 0; i < 20; i++) {
                r.nextBytes(chunk);
                d.write(ByteBuffer.wrap(chunk), (long) i << 20);
                System.arraycopy(chunk, 0, expect, i << 20, chunk.length);
            }
        }
        assertClean(img);
        assertArrayEquals(expect, qemuRaw(img));
        assertTrue(before.contains("\"cluster-size\": 512"), before);
    }

    /** Sets the stored refcount of the cluster at {@code host} directly, to fake damage. */
    private static void setRefcount(Path img, long host, long value) throws IOException {
        try (HostFile f = new HostFile(img, true)) {
            Qcow2Header h = Qcow2Header.read(f);
            RefcountTable t = RefcountTable.read(f, h);
            t.set(host, value);
            t.flush();
        }
    }

    @Test
    void checkAgreesWithQemuOnCleanLeakedAndCorruptImages() throws Exception {
        Path img = p("c.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", img.toString(), "2M");
        qemuIo(img.toString(), "write -P 0x44 0 1M");
        CheckReport clean = format.check(img, POLICY, false);
        assertEquals(0, clean.exitCode(), clean.problems().toString());
        assertEquals(0, qemuCheck(img));

        long size = Files.size(img);
        long leaked = (size + 65535) / 65536 * 65536;
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(65536), leaked);
        }
        setRefcount(img, leaked, 1);
        assertEquals(3, qemuCheck(img));
        CheckReport leaks = format.check(img, POLICY, false);
        assertEquals(3, leaks.exitCode());
        assertEquals(1, leaks.leaks());
        CheckReport repaired = format.check(img, POLICY, true);
        assertEquals(1, repaired.leaksFixed());
        assertEquals(0, repaired.exitCode());
        assertEquals(0, qemuCheck(img));
        assertEquals(0, format.check(img, POLICY, false).exitCode());

        // A data cluster whose refcount dropped to zero is a corruption for both.
        long data;
        try (HostFile f = new HostFile(img, false)) {
            Qcow2Header h = Qcow2Header.read(f);
            L1Table l1 = L1Table.read(f, h);
            ByteBuffer l2 = ByteBuffer.allocate(h.clusterSize());
            f.readMetadata(l2, l1.l2Offset(0), "L2");
            data = l2.getLong(0) & L1Table.OFFSET_MASK;
        }
        setRefcount(img, data, 0);
        assertEquals(2, qemuCheck(img));
        assertEquals(2, format.check(img, POLICY, false).exitCode());
    }

    @Test
    void commitWritesTheOverlayIntoItsBackingAndEmptiesIt() throws Exception {
        Path base = p("base.qcow2");
        Path top = p("top.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "4M");
        qemuIo(base.toString(), "write -P 0x55 0 4M");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top.toString());
        qemuIo(top.toString(), "write -P 0x66 1000 200000", "write -z 1M 128k", "write -P 0x67 3M 4096");
        byte[] expect = qemuRaw(top);
        format.commit(top, POLICY);
        assertClean(base);
        assertClean(top);
        assertArrayEquals(expect, qemuRaw(base), "the backing now holds the overlay's view");
        assertArrayEquals(expect, qemuRaw(top), "the chain still shows the same bytes");
        String info = ok("qemu-img", "info", "--output=json", top.toString());
        assertTrue(info.contains("\"backing-filename\": \"base.qcow2\""), info);
    }

    @Test
    void rebaseSafeKeepsContentUnsafeOnlyRewritesTheReference() throws Exception {
        Path a = p("a.qcow2");
        Path b = p("b.qcow2");
        Path top = p("top.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", a.toString(), "4M");
        qemuIo(a.toString(), "write -P 0x01 0 4M");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", b.toString());
        qemuIo(b.toString(), "write -P 0x02 0 1M");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", top.toString());
        qemuIo(top.toString(), "write -P 0x03 2M 5000");
        byte[] expect = qemuRaw(top);
        format.rebase(top, a, "qcow2", false, POLICY);
        assertClean(top);
        assertArrayEquals(expect, qemuRaw(top));
        String info = ok("qemu-img", "info", "--output=json", top.toString());
        assertTrue(info.contains("\"backing-filename\": \"a.qcow2\""), info);
        assertTrue(info.contains("\"backing-filename-format\": \"qcow2\""), info);

        format.rebase(top, b, "qcow2", true, POLICY);
        assertClean(top);
        assertTrue(ok("qemu-img", "info", top.toString()).contains("backing file: b.qcow2"));
        format.rebase(top, null, null, false, POLICY);
        assertClean(top);
        assertArrayEquals(qemuRaw(top), ours(top));
        assertTrue(!ok("qemu-img", "info", top.toString()).contains("backing file"));
    }

    @ParameterizedTest
    @ValueSource(ints = {512, 65536})
    void resizeGrowsAndKeepsData(int clusterSize) throws Exception {
        Path img = p("r.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=" + clusterSize, img.toString(), "5M");
        qemuIo(img.toString(), "write -P 0x77 0 5M");
        format.resize(img, 3L << 30, POLICY);
        assertClean(img);
        assertTrue(ok("qemu-img", "info", "--output=json", img.toString()).contains("\"virtual-size\": " + (3L << 30)));
        qemuIo(img.toString(), "write -P 0x78 " + ((3L << 30) - 4096) + " 4096", "read -P 0x77 0 5M",
                "read -P 0 5M 1M");
        assertClean(img);
        assertThrows(UnsupportedFeatureException.class, () -> format.resize(img, 1 << 20, POLICY));
    }

    @Test
    void convertCompressedAndAgainstABacking() throws Exception {
        byte[] content = new byte[3 << 20];
        Random r = new Random(7);
        for (int i = 0; i < content.length; i += 4096) {
            Arrays.fill(content, i, i + 2048, (byte) r.nextInt()); // compressible runs
        }
        Path raw = Files.write(p("src.raw"), content);
        try (VirtualDisk src = new RawFormat().open(raw, POLICY, false, 0)) {
            DiskCopier.copyCompressed(src, format, Map.of(), p("c.qcow2"), POLICY);
        }
        assertClean(p("c.qcow2"));
        ok("qemu-img", "compare", "-f", "qcow2", "-F", "raw", p("c.qcow2").toString(), raw.toString());
        assertTrue(ok("qemu-img", "map", "--output=json", p("c.qcow2").toString()).contains("\"compressed\": true")
                || Files.size(p("c.qcow2")) < content.length / 2);
        assertArrayEquals(content, ours(p("c.qcow2")));

        byte[] changed = content.clone();
        Arrays.fill(changed, 100_000, 100_100, (byte) 0x7f);
        Arrays.fill(changed, 2 << 20, (2 << 20) + 65536, (byte) 0);
        Path raw2 = Files.write(p("changed.raw"), changed);
        try (VirtualDisk src = new RawFormat().open(raw2, POLICY, false, 0)) {
            DiskCopier.copyAgainstBacking(src, format, p("delta.qcow2"), p("c.qcow2"), "qcow2", false, POLICY);
        }
        assertClean(p("delta.qcow2"));
        ok("qemu-img", "compare", "-f", "qcow2", "-F", "raw", p("delta.qcow2").toString(), raw2.toString());
        assertTrue(Files.size(p("delta.qcow2")) < 600_000, "only the difference is stored: " + Files.size(p("delta.qcow2")));
    }

    @Test
    void imagesLeftDirtyByLazyRefcountsAreRebuiltThenWritable() throws Exception {
        Path img = p("lazy.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", img.toString(), "4M");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 1M", "-c", "abort", img.toString()); // a crash
        byte[] expect = qemuRaw(img);
        assertEquals(2, qemuCheck(img), "QEMU sees the dirty image's refcounts as errors");
        assertTrue(ok("qemu-img", "info", "--output=json", img.toString()).contains("\"dirty-flag\": true"));
        assertEquals(2, format.check(img, POLICY, false).exitCode());
        assertThrows(UnsupportedFeatureException.class, () -> format.open(img, POLICY, true, 0));
        CheckReport repaired = format.checkRepairingAll(img, POLICY);
        assertEquals(0, repaired.exitCode(), repaired.problems().toString());
        assertClean(img);
        assertTrue(ok("qemu-img", "info", "--output=json", img.toString()).contains("\"dirty-flag\": false"));
        try (VirtualDisk d = format.open(img, POLICY, true, 0)) {
            writeRandom(d, expect, 12, 20, 100_000);
        }
        assertClean(img);
        assertArrayEquals(expect, qemuRaw(img));
    }

    @Test
    void jsonAndProtocolBackingNamesAndExternalDataFilesAreRefused() throws Exception {
        Path json = p("json.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "json:{\"file.filename\":\"/etc/passwd\"}", "-F", "raw",
                json.toString(), "1M");
        io.cowherd.UnsafeBackingException e1 = assertThrows(io.cowherd.UnsafeBackingException.class,
                () -> format.open(json, POLICY, false, 0));
        assertTrue(e1.getMessage().contains("json:"), e1.getMessage());
        Path nbd = p("nbd.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "nbd://127.0.0.1:10809/x", "-F", "raw", nbd.toString(), "1M");
        assertThrows(io.cowherd.UnsafeBackingException.class, () -> format.open(nbd, POLICY, false, 0));
        Path noFormat = p("noformat.qcow2");
        Files.write(p("base.raw"), new byte[1 << 20]);
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", noFormat.toString(), "1M");
        try (io.cowherd.internal.io.HostFile f = new io.cowherd.internal.io.HostFile(noFormat, true)) {
            Qcow2Header.read(f).rewriteBacking(f, "base.raw", null); // an old image that never recorded the format
        }
        assertTrue(!ok("qemu-img", "info", noFormat.toString()).contains("backing file format"));
        io.cowherd.UnsafeBackingException e2 = assertThrows(io.cowherd.UnsafeBackingException.class,
                () -> format.open(noFormat, POLICY, false, 0));
        assertTrue(e2.getMessage().contains("probing"), e2.getMessage());
        Path data = p("external.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=" + p("external.data"), data.toString(), "1M");
        UnsupportedFeatureException e3 = assertThrows(UnsupportedFeatureException.class,
                () -> format.open(data, POLICY, false, 0));
        assertTrue(e3.getMessage().contains("external data file"), e3.getMessage());
    }

    @Test
    void writingClearsAutoclearBitsSoQemuDropsBitmapsItCannotTrust() throws Exception {
        Path img = p("bitmap.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", img.toString(), "4M");
        qemuIo(img.toString(), "write -P 1 0 1M");
        ok("qemu-img", "bitmap", "--add", img.toString(), "b0");
        try (VirtualDisk d = format.open(img, POLICY, true, 0)) {
            d.write(ByteBuffer.wrap(new byte[70000]), 100_000);
        }
        // The spec's contract: a writer that does not know bitmaps clears the autoclear bit, and
        // QEMU then treats the bitmaps as inconsistent. Their clusters leak; nothing is corrupt.
        io.cowherd.testkit.PeerTool.Result check = run("qemu-img", "check", "-f", "qcow2", img.toString());
        assertEquals(3, check.exit(), check.output());
        assertTrue(check.output().contains("bitmaps are now considered inconsistent"), check.output());
        assertEquals(3, format.check(img, POLICY, false).exitCode());
        assertEquals(0, format.check(img, POLICY, true).exitCode());
        assertClean(img);
    }
}
