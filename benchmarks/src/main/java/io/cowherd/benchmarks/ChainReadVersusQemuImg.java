package io.cowherd.benchmarks;

import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.RawFormat;
import io.cowherd.qcow2.Qcow2Format;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * qcow2 chain reads and flattening, cowherd (in-process API) against qemu-img and cat, in one
 * run on the same files: a master of SIZE GiB of random data as qcow2, a clone that rewrote
 * 10% of it; flatten to raw (vs {@code qemu-img convert -O raw} and {@code cat} of the
 * equivalent raw file) and to qcow2 (vs {@code qemu-img convert -O qcow2}). Prints medians and
 * ratios (peer time / cowherd time; above 1 means cowherd is faster). The first round warms the
 * JIT and the page cache and is printed but not counted.
 * Usage: {@code ChainReadVersusQemuImg [DIR] [SIZE_GIB=2] [ROUNDS=3]}.
 */
public final class ChainReadVersusQemuImg {
    private ChainReadVersusQemuImg() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("cowherd-chain");
        long size = (args.length > 1 ? Long.parseLong(args[1]) : 2) << 30;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Files.createDirectories(dir);
        Path masterRaw = dir.resolve("master.raw");
        Path master = dir.resolve("master.qcow2");
        Path clone = dir.resolve("clone.qcow2");
        Path cloneRaw = dir.resolve("clone-equivalent.raw");
        System.out.printf(Locale.ROOT, "chain read benchmark: %d GiB master, clone rewrote 10%%, %d rounds, in %s%n",
                size >> 30, rounds, dir);
        writeRandom(masterRaw, size);
        run(dir, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", masterRaw.toString(), master.toString());
        Files.delete(masterRaw);
        Qcow2Format qcow2 = new Qcow2Format();
        qcow2.createOverlay(clone, master, "qcow2", size);
        rewriteTenPercent(qcow2, clone, size);
        run(dir, "qemu-img", "convert", "-f", "qcow2", "-O", "raw", clone.toString(), cloneRaw.toString());

        List<Double> oursRaw = new ArrayList<>();
        List<Double> qemuRaw = new ArrayList<>();
        List<Double> cat = new ArrayList<>();
        List<Double> oursQcow2 = new ArrayList<>();
        List<Double> qemuQcow2 = new ArrayList<>();
        Path out = dir.resolve("out");
        for (int r = 0; r <= rounds; r++) {
            oursRaw.add(time(() -> flatten(clone, new RawFormat(), out)));
            if (r == 0) {
                run(dir, "cmp", out.toString(), cloneRaw.toString());
            }
            Files.delete(out);
            qemuRaw.add(time(() -> run(dir, "qemu-img", "convert", "-f", "qcow2", "-O", "raw", clone.toString(), out.toString())));
            Files.delete(out);
            cat.add(time(() -> run(dir, "sh", "-c", "cat '" + cloneRaw + "' > '" + out + "'")));
            Files.delete(out);
            oursQcow2.add(time(() -> flatten(clone, qcow2, out)));
            if (r == 0) {
                run(dir, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", out.toString(), cloneRaw.toString());
                run(dir, "qemu-img", "check", "-q", "-f", "qcow2", out.toString());
            }
            Files.delete(out);
            qemuQcow2.add(time(() -> run(dir, "qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", clone.toString(), out.toString())));
            Files.delete(out);
            if (r == 0) {
                System.out.printf(Locale.ROOT, "warm-up round (not counted): to raw cowherd %.2f s, qemu-img %.2f s, cat %.2f s; "
                        + "to qcow2 cowherd %.2f s, qemu-img %.2f s%n", oursRaw.remove(0), qemuRaw.remove(0), cat.remove(0),
                        oursQcow2.remove(0), qemuQcow2.remove(0));
                continue;
            }
            System.out.printf(Locale.ROOT, "round %d: to raw cowherd %.2f s, qemu-img %.2f s, cat %.2f s; to qcow2 cowherd %.2f s, "
                    + "qemu-img %.2f s%n", r, oursRaw.get(r - 1), qemuRaw.get(r - 1), cat.get(r - 1), oursQcow2.get(r - 1),
                    qemuQcow2.get(r - 1));
        }
        double gib = size / (double) (1L << 30);
        System.out.printf(Locale.ROOT, "median to raw: cowherd %.2f s (%.0f MiB/s), qemu-img %.2f s, cat %.2f s%n",
                median(oursRaw), gib * 1024 / median(oursRaw), median(qemuRaw), median(cat));
        System.out.printf(Locale.ROOT, "ratio chain read to raw: vs qemu-img convert -O raw %.2fx (goal >= 1.0), vs cat %.2fx (goal >= 0.7)%n",
                median(qemuRaw) / median(oursRaw), median(cat) / median(oursRaw));
        System.out.printf(Locale.ROOT, "ratio flatten to qcow2: vs qemu-img convert -O qcow2 %.2fx (goal >= 1.0); cowherd %.2f s, qemu-img %.2f s%n",
                median(qemuQcow2) / median(oursQcow2), median(oursQcow2), median(qemuQcow2));
    }

    interface Action {
        void run() throws Exception;
    }

    /**
     * Times {@code a} after an untimed {@code sync}, so no tool pays for writing back what the
     * one before it left dirty in the page cache.
     */
    private static double time(Action a) throws Exception {
        new ProcessBuilder("sync").inheritIO().start().waitFor();
        long t = System.nanoTime();
        a.run();
        return (System.nanoTime() - t) / 1e9;
    }

    private static void flatten(Path image, io.cowherd.spi.ImageFormat outFormat, Path out) throws IOException {
        try (VirtualDisk d = new Qcow2Format().open(image, ImagePolicy.operator(), false, 0)) {
            // Not forced to disk, like qemu-img convert and cat: all three measured the same way.
            DiskCopier.copy(d, outFormat, java.util.Map.of(), out, ImagePolicy.operator(), false);
        }
    }

    private static void writeRandom(Path file, long size) throws IOException {
        SplittableRandom r = new SplittableRandom(1);
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long at = 0; at < size; at += buf.capacity()) {
                buf.clear();
                while (buf.hasRemaining()) {
                    buf.putLong(r.nextLong());
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
        }
    }

    /** Rewrites 10% of the clone in 1 MiB pieces at random, 1 MiB-aligned places. */
    private static void rewriteTenPercent(Qcow2Format f, Path clone, long size) throws IOException {
        SplittableRandom r = new SplittableRandom(2);
        long pieces = size / (1 << 20);
        boolean[] done = new boolean[(int) pieces];
        byte[] data = new byte[1 << 20];
        try (VirtualDisk d = f.open(clone, ImagePolicy.operator(), true, 0)) {
            for (long n = 0; n < pieces / 10; ) {
                int p = r.nextInt((int) pieces);
                if (done[p]) {
                    continue;
                }
                done[p] = true;
                Arrays.fill(data, (byte) r.nextInt());
                data[0] = 1;
                d.write(ByteBuffer.wrap(data), (long) p << 20);
                n++;
            }
        }
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        s.sort(null);
        return s.get(s.size() / 2);
    }

    private static void run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String o = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + o);
        }
    }
}
