package io.cowherd.qcow2;

import static io.cowherd.qcow2.QemuTool.ok;
import static io.cowherd.qcow2.QemuTool.qemuIo;
import static io.cowherd.qcow2.QemuTool.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.ImagePolicy;
import io.cowherd.Pool;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * qcow2 against QEMU's own tools, in both directions: everything we write passes
 * {@code qemu-img check} and {@code compare} and takes {@code qemu-io} writes; everything
 * qemu-img writes (uncompressed) reads byte-identical to {@code qemu-img convert -O raw}.
 */
class Qcow2QemuPeerTest {
    private static final int SIZE = 5 * 1024 * 1024 + 4096 + 512;

    @TempDir
    Path dir;

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        Arrays.fill(b, n / 3, n / 2, (byte) 0);
        return b;
    }

    private static byte[] readAll(Path image) throws IOException {
        try (VirtualDisk d = Qcow2Image.open(image, ImagePolicy.operator(), false, 0)) {
            ByteBuffer b = ByteBuffer.allocate((int) d.size());
            d.readFully(b, 0);
            return b.array();
        }
    }

    private byte[] qemuRaw(Path image) throws Exception {
        Path raw = dir.resolve(image.getFileName() + ".qemu.raw");
        Files.deleteIfExists(raw);
        ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", image.toString(), raw.toString());
        return Files.readAllBytes(raw);
    }

    private static void checkClean(Path image) throws Exception {
        io.cowherd.testkit.PeerTool.Result r = run("qemu-img", "check", "-f", "qcow2", image.toString());
        assertEquals(0, r.exit(), "qemu-img check " + image + ":\n" + r.output());
        assertTrue(r.output().contains("No errors were found"), r.output());
    }

    @Test
    void overlaysWeCreateAreAcceptedByQemu() throws Exception {
        byte[] content = random(SIZE, 1);
        Path src = dir.resolve("src.raw");
        Files.write(src, content);
        try (Pool pool = new Qcow2Backend().openPool(dir.resolve("pool"))) {
            Volume m = pool.importMaster("m", src, "raw");
            List<Volume> clones = pool.createClones("m", List.of("a", "b"));
            checkClean(m.path());
            ok("qemu-img", "compare", "-f", "qcow2", "-F", "raw", m.path().toString(), src.toString());
            for (Volume c : clones) {
                checkClean(c.path());
                String info = ok("qemu-img", "info", "--output=json", "-f", "qcow2", c.path().toString());
                assertTrue(info.contains("\"backing-filename\": \"m.qcow2\""), info);
                assertTrue(info.contains("\"backing-filename-format\": \"qcow2\""), info);
                assertTrue(info.contains("\"compat\": \"1.1\""), info);
                ok("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", c.path().toString(), m.path().toString());
            }
            // qemu-io writes land in clone a only.
            Path a = clones.get(0).path();
            qemuIo(a.toString(), "write -P 0xab 1000 70000", "write -P 0xcd " + (SIZE - 3000) + " 3000");
            checkClean(a);
            byte[] expect = content.clone();
            Arrays.fill(expect, 1000, 71000, (byte) 0xab);
            Arrays.fill(expect, SIZE - 3000, SIZE, (byte) 0xcd);
            assertArrayEquals(expect, readAll(a), "we read what qemu-io wrote");
            assertArrayEquals(content, readAll(m.path()), "the master is untouched");
            assertArrayEquals(content, readAll(clones.get(1).path()), "the sibling is untouched");
            ok("qemu-img", "compare", "-f", "qcow2", "-F", "raw", clones.get(1).path().toString(), src.toString());
        }
    }

    /** Writes through our VirtualDisk, then lets qemu-img judge. */
    private void writeAndVerify(Path image, byte[] before) throws Exception {
        byte[] expect = before.clone();
        Random r = new Random(5);
        try (VirtualDisk d = Qcow2Image.open(image, ImagePolicy.operator(), true, 0)) {
            for (int i = 0; i < 40; i++) {
                int len = 1 + r.nextInt(200_000);
                int at = r.nextInt(expect.length - len);
                byte[] data = new byte[len];
                r.nextBytes(data);
                d.write(ByteBuffer.wrap(data), at);
                System.arraycopy(data, 0, expect, at, len);
                if (i % 10 == 9) {
                    // zeroing and discarding, whole clusters and ragged ends alike
                    int zlen = 1 + r.nextInt(300_000);
                    int zat = r.nextInt(expect.length - zlen);
                    if (i % 20 == 9) {
                        d.writeZeroes(zat, zlen);
                    } else {
                        d.discard(zat, zlen);
                    }
                    Arrays.fill(expect, zat, zat + zlen, (byte) 0);
                }
            }
            d.flush();
        }
        checkClean(image);
        assertArrayEquals(expect, qemuRaw(image), "qemu-img reads what we wrote");
        assertArrayEquals(expect, readAll(image));
        qemuIo(image.toString(), "read -P 0 " + 0 + " 0"); // qemu-io opens it read-write without complaint
    }

    @Test
    void ourWritesIntoOurClonesPassQemuCheck() throws Exception {
        byte[] content = random(SIZE, 2);
        Path src = dir.resolve("src.raw");
        Files.write(src, content);
        try (Pool pool = new Qcow2Backend().openPool(dir.resolve("pool"))) {
            pool.importMaster("m", src, "raw");
            Volume c = pool.createClone("m", "c");
            writeAndVerify(c.path(), content);
        }
    }

    static Stream<Arguments> qemuMadeImages() {
        List<Arguments> args = new ArrayList<>();
        for (String compat : List.of("0.10", "1.1")) {
            for (int cs : List.of(512, 4096, 65536, 2 << 20)) {
                args.add(Arguments.of("compat=" + compat + ",cluster_size=" + cs));
            }
        }
        args.add(Arguments.of("compat=1.1,cluster_size=65536,extended_l2=on"));
        args.add(Arguments.of("compat=1.1,cluster_size=131072,extended_l2=on"));
        args.add(Arguments.of("compat=1.1,lazy_refcounts=on"));
        for (int bits : List.of(1, 2, 4, 8, 32, 64)) {
            args.add(Arguments.of("compat=1.1,refcount_bits=" + bits));
        }
        args.add(Arguments.of("compat=1.1,preallocation=metadata"));
        return args.stream();
    }

    /** A chain of three made by qemu-img and qemu-io, with partial writes, zeroes and discards. */
    private Path qemuChain(String options) throws Exception {
        Path base = dir.resolve("base.qcow2");
        Path mid = dir.resolve("mid.qcow2");
        Path top = dir.resolve("top.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, base.toString(), String.valueOf(SIZE));
        qemuIo(base.toString(), "write -P 0x11 0 " + SIZE, "write -P 0x12 700 5000");
        String overlayOptions = options.replace(",preallocation=metadata", "");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", overlayOptions, "-b", "base.qcow2", "-F", "qcow2",
                mid.toString());
        qemuIo(mid.toString(), "write -P 0x21 100000 300000", "write -P 0x22 " + (SIZE - 1234) + " 1234");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", overlayOptions, "-b", "mid.qcow2", "-F", "qcow2",
                top.toString());
        boolean v3 = options.contains("compat=1.1");
        List<String> cmds = new ArrayList<>(List.of("write -P 0x31 3 77777", "write -P 0x32 2000000 65536"));
        if (v3) {
            cmds.add("write -z 150000 200000");
            cmds.add("discard 2000000 65536");
        }
        qemuIo(top.toString(), cmds.toArray(new String[0]));
        return top;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("qemuMadeImages")
    void weReadQemuChainsByteIdentical(String options) throws Exception {
        Path top = qemuChain(options);
        assertArrayEquals(qemuRaw(top), readAll(top));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("qemuMadeImages")
    void ourWritesIntoQemuImagesPassQemuCheck(String options) throws Exception {
        Path top = qemuChain(options);
        writeAndVerify(top, qemuRaw(top));
    }
}
