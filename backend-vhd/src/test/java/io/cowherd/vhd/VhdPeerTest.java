package io.cowherd.vhd;

import io.cowherd.testkit.PeerTool;
import static io.cowherd.testkit.PeerTool.ok;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * VHD against the real peers in both directions: qemu-img ({@code -f vpc}) reads our fixed and
 * dynamic disks byte-identical, we read what qemu-img and qemu-io write byte-identical to
 * {@code qemu-img convert -O raw}, {@code vhdiinfo} accepts everything we write, and
 * {@code vhdimount} shows our differencing chains (three deep) exactly as we do.
 */
class VhdPeerTest {
    /** Not a CHS size, not a block multiple: exercises current_size and a ragged last block. */
    private static final int SIZE = 5 * 1024 * 1024 + 4096 + 512;
    private static final VhdFormat FORMAT = new VhdFormat();

    @TempDir
    Path dir;

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] readAll(Path image) throws IOException {
        try (VirtualDisk d = VhdImage.open(image, ImagePolicy.operator(), false, 0)) {
            ByteBuffer b = ByteBuffer.allocate((int) d.size());
            d.readFully(b, 0);
            return b.array();
        }
    }

    /** Unaligned writes at awkward places; applies the same to {@code expect}. */
    static void scribble(Path image, byte[] expect, long seed) throws IOException {
        Random r = new Random(seed);
        long[] offsets = {0, 700, 2 * 1024 * 1024 - 100, 3 * 1024 * 1024 + 511, expect.length - 1500,
                r.nextInt(expect.length - 70000)};
        try (VirtualDisk d = VhdImage.open(image, ImagePolicy.operator(), true, 0)) {
            for (int i = 0; i < offsets.length; i++) {
                byte[] p = random(i == 5 ? 65536 + 3 : 1000, seed * 31 + i);
                d.write(ByteBuffer.wrap(p), offsets[i]);
                System.arraycopy(p, 0, expect, (int) offsets[i], p.length);
            }
            d.flush();
        }
    }

    private byte[] qemuRaw(Path image) throws Exception {
        Path raw = dir.resolve(image.getFileName() + ".qemu.raw");
        Files.deleteIfExists(raw);
        ok("qemu-img", "convert", "-f", "vpc", "-O", "raw", image.toString(), raw.toString());
        return Files.readAllBytes(raw);
    }

    private static void vhdiinfo(Path image) throws Exception {
        Assumptions.assumeTrue(PeerTool.has("vhdiinfo"), "libvhdi-utils is not installed");
        String out = ok("vhdiinfo", image.toString());
        assertTrue(out.contains("Virtual Hard Disk image information"), out);
        try (VirtualDisk d = VhdImage.open(image, ImagePolicy.operator(), false, 0)) {
            assertTrue(out.contains("(" + d.size() + " bytes)"), "vhdiinfo sees our size: " + out);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"fixed", "dynamic"})
    void qemuReadsOurDisksByteIdentical(String subformat) throws Exception {
        Path image = dir.resolve(subformat + ".vhd");
        FORMAT.create(image, SIZE, Map.of("subformat", subformat));
        byte[] expect = new byte[SIZE];
        scribble(image, expect, 5);
        assertArrayEquals(expect, readAll(image));
        String info = ok("qemu-img", "info", "-f", "vpc", "--output=json", image.toString());
        assertTrue(info.contains("\"virtual-size\": " + SIZE), info);
        assertArrayEquals(expect, qemuRaw(image), "qemu-img convert -f vpc -O raw shows what we wrote");
        vhdiinfo(image);
        assertEquals(0, FORMAT.check(image, ImagePolicy.operator(), false).exitCode());
    }

    @ParameterizedTest
    @ValueSource(strings = {"fixed", "dynamic"})
    void weReadQemusDisksByteIdentical(String subformat) throws Exception {
        Path image = dir.resolve("q-" + subformat + ".vhd");
        ok("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=" + subformat, image.toString(),
                String.valueOf(SIZE));
        ok("qemu-io", "-f", "vpc", "-c", "write -P 0xab 4096 100k", "-c", "write -P 0x12 2097000 7000",
                "-c", "write -P 0xcd 4194304 512", image.toString());
        byte[] qemu = qemuRaw(image);
        assertArrayEquals(qemu, readAll(image), "we read what qemu wrote");
        // and qemu reads what we then write into its image
        byte[] expect = qemu.clone();
        scribble(image, expect, 9);
        assertArrayEquals(expect, qemuRaw(image));
        assertEquals(0, FORMAT.check(image, ImagePolicy.operator(), false).exitCode());
    }

    @Test
    void vhdiinfoAcceptsDifferencingDisks() throws Exception {
        Path base = dir.resolve("base.vhd");
        FORMAT.create(base, SIZE);
        scribble(base, new byte[SIZE], 1);
        Path child = dir.resolve("child.vhd");
        FORMAT.createOverlay(child, base, "vhd", SIZE);
        vhdiinfo(child);
        scribble(child, new byte[SIZE], 2);
        vhdiinfo(child);
        String out = ok("vhdiinfo", child.toString());
        assertTrue(out.contains("Disk type\t\t: Differential"), out);
        try (VhdImage b = VhdImage.open(base, ImagePolicy.operator(), false, 0)) {
            assertTrue(out.contains("Parent identifier\t: " + VhdFooter.uuidString(b.footer().uniqueId)), out);
        }
        assertTrue(out.contains("Parent filename\t\t: base.vhd"), out);
    }

    /**
     * The pool's ways out on VHD, judged by the peers: a flattened and a promoted clone are
     * dynamic disks that need no parent (vhdiinfo, and qemu-img, which cannot follow a parent,
     * reads them whole); a committed master holds its last clone's bytes.
     */
    @Test
    void flattenPromoteAndCommitGiveDisksThePeersRead() throws Exception {
        Path poolDir = Files.createDirectories(dir.resolve("pool"));
        byte[] masterBytes = random(SIZE, 3);
        Path raw = Files.write(dir.resolve("m.raw"), masterBytes);
        try (io.cowherd.Pool pool = new VhdBackend().openPool(poolDir)) {
            pool.importMaster("m", raw, "raw");
            pool.createClones("m", List.of("a", "b", "c"));
            byte[][] expect = new byte[3][];
            String[] names = {"a", "b", "c"};
            for (int i = 0; i < 3; i++) {
                expect[i] = masterBytes.clone();
                scribble(poolDir.resolve(names[i] + ".vhd"), expect[i], 20 + i);
            }
            pool.flatten("a");
            pool.promote("b");
            for (int i = 0; i < 2; i++) {
                Path image = poolDir.resolve(names[i] + ".vhd");
                vhdiinfo(image);
                String out = ok("vhdiinfo", image.toString());
                assertTrue(out.contains("Disk type\t\t: Dynamic"), names[i] + " stands alone: " + out);
                assertArrayEquals(expect[i], qemuRaw(image), names[i] + " as qemu-img reads it");
            }
            pool.commit("c");
            Path master = poolDir.resolve("m.vhd");
            vhdiinfo(master);
            assertArrayEquals(expect[2], qemuRaw(master), "the master holds its last clone's bytes");
            assertEquals(0, FORMAT.check(master, ImagePolicy.operator(), false).exitCode());
        }
    }

    @Test
    void vhdimountShowsOurChainOfThree() throws Exception {
        Assumptions.assumeTrue(PeerTool.has("vhdimount"), "libvhdi-utils is not installed");
        Assumptions.assumeTrue(Files.isReadable(Path.of("/dev/fuse")), "no FUSE here");
        byte[] expect = random(SIZE, 77);
        Arrays.fill(expect, SIZE / 3, SIZE / 2, (byte) 0);
        Path base = dir.resolve("base.vhd");
        FORMAT.create(base, SIZE);
        try (VirtualDisk d = VhdImage.open(base, ImagePolicy.operator(), true, 0)) {
            d.write(ByteBuffer.wrap(expect), 0);
        }
        Path mid = dir.resolve("mid.vhd");
        FORMAT.createOverlay(mid, base, "vhd", SIZE);
        scribble(mid, expect, 3);
        // One directory, as in a pool: vhdimount looks for parents beside the child.
        Path top = dir.resolve("top.vhd");
        FORMAT.createOverlay(top, mid, "vhd", SIZE);
        scribble(top, expect, 4);
        assertArrayEquals(expect, readAll(top));

        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Process mount = new ProcessBuilder("vhdimount", top.toString(), mnt.toString()).redirectErrorStream(true)
                .start();
        try {
            Path vhdi3 = mnt.resolve("vhdi3");
            for (int i = 0; i < 100 && !Files.exists(vhdi3); i++) {
                Thread.sleep(100);
            }
            String listing;
            try (var s = Files.list(mnt)) {
                listing = s.map(p -> p.getFileName().toString()).sorted().toList().toString();
            }
            assertEquals(List.of("vhdi1", "vhdi2", "vhdi3").toString(), listing,
                    "vhdimount found the whole chain: " + listing);
            assertArrayEquals(expect, Files.readAllBytes(vhdi3), "vhdimount shows the top of the chain as we do");
        } finally {
            PeerTool.run("umount", mnt.toString());
            if (!mount.waitFor(30, TimeUnit.SECONDS)) {
                mount.destroyForcibly();
            }
        }
    }
}
