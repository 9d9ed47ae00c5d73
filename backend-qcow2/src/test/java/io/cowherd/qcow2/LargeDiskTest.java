package io.cowherd.qcow2;

import static io.cowherd.qcow2.QemuTool.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.internal.io.DiskCopier;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every operation on a 100 GiB virtual disk within the 256 MiB heap this module's tests run in
 * (see the surefire argLine): scattered writes that overflow the L2 cache, clone, check,
 * flatten, safe rebase, commit and resize; QEMU checks every result.
 */
class LargeDiskTest {
    private static final long SIZE = 100L << 30;
    private static final ImagePolicy POLICY = ImagePolicy.operator();

    @TempDir
    Path dir;

    @Test
    void hundredGibibyteDiskInASmallHeap() throws Exception {
        assertTrue(Runtime.getRuntime().maxMemory() <= 300L << 20, "runs with -Xmx256m");
        Qcow2Format f = new Qcow2Format();
        Path master = dir.resolve("master.qcow2");
        Path clone = dir.resolve("clone.qcow2");
        f.create(master, SIZE);
        Random r = new Random(11);
        byte[] mb = new byte[1 << 20];
        long[] places = new long[150];
        try (VirtualDisk d = f.open(master, POLICY, true, 0)) {
            for (int i = 0; i < places.length; i++) {
                places[i] = (r.nextLong() & Long.MAX_VALUE) % (SIZE - mb.length);
                r.nextBytes(mb);
                d.write(ByteBuffer.wrap(mb), places[i]);
            }
        }
        ok("qemu-img", "check", "-q", master.toString());
        f.createOverlay(clone, master, "qcow2", SIZE);
        try (VirtualDisk d = f.open(clone, POLICY, true, 0)) {
            for (int i = 0; i < 50; i++) {
                d.write(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5}), places[i] + 1000);
            }
        }
        ok("qemu-img", "check", "-q", clone.toString());
        assertEquals(0, f.check(clone, POLICY, false).exitCode());

        Path flat = dir.resolve("flat.qcow2");
        try (VirtualDisk d = f.open(clone, POLICY, false, 0)) {
            DiskCopier.copy(d, f, Map.of(), flat, POLICY, false);
        }
        ok("qemu-img", "check", "-q", flat.toString());
        ok("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "qcow2", flat.toString(), clone.toString());

        f.rebase(clone, null, null, false, POLICY); // safe: pulls the master's data in
        ok("qemu-img", "check", "-q", clone.toString());
        ok("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "qcow2", flat.toString(), clone.toString());

        Path top = dir.resolve("top.qcow2");
        f.createOverlay(top, flat, "qcow2", SIZE);
        try (VirtualDisk d = f.open(top, POLICY, true, 0)) {
            d.write(ByteBuffer.wrap(new byte[4096]).put(0, (byte) 9), SIZE - 4096);
        }
        f.commit(top, POLICY);
        ok("qemu-img", "check", "-q", flat.toString());
        f.resize(flat, 2 * SIZE, POLICY);
        ok("qemu-img", "check", "-q", flat.toString());
        assertTrue(ok("qemu-img", "info", "--output=json", flat.toString()).contains("\"virtual-size\": " + 2 * SIZE));
    }
}
