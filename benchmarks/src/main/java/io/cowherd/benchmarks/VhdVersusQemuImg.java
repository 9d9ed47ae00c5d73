package io.cowherd.benchmarks;

import io.cowherd.Backends;
import io.cowherd.ImagePolicy;
import io.cowherd.Pool;
import io.cowherd.VirtualDisk;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * VHD in one run on the same files: differencing clones per second against qcow2 clones (both
 * cowherd batches), and flattening to raw against {@code qemu-img convert -f vpc -O raw} of the
 * dynamic master (QEMU cannot follow a VHD parent, so the clone chain is timed for cowherd
 * only) and against {@code cat} of the equivalent raw file. Ratios above 1 mean cowherd is faster.
 * Needs cowherd-backend-vhd and cowherd-backend-qcow2 on the class path (looked up by name).
 * Usage: {@code VhdVersusQemuImg [DIR] [SIZE_MIB=1024] [CLONES=1000] [ROUNDS=3]}.
 */
public final class VhdVersusQemuImg {
    private VhdVersusQemuImg() {
    }

    public static void main(String[] args) throws Exception {
        Path base = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("cowherd-vhd-bench");
        long size = (args.length > 1 ? Long.parseLong(args[1]) : 1024) << 20;
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 1000;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Files.createDirectories(base);
        ImageFormat vhd = ImageFormats.byName("vhd");
        ImagePolicy any = ImagePolicy.operator();
        System.out.printf(Locale.ROOT, "vhd benchmark: %d MiB master, %d clones, %d rounds, in %s%n", size >> 20, n,
                rounds, base);

        Path vhdPool = Files.createDirectories(base.resolve("vhd-pool"));
        Path master = vhdPool.resolve("master.vhd");
        Path raw = base.resolve("master.raw");
        vhd.create(master, size);
        byte[] chunk = new byte[1 << 20];
        SplittableRandom rnd = new SplittableRandom(7);
        try (VirtualDisk d = vhd.open(master, any, true, 0);
                var out = java.nio.channels.FileChannel.open(raw, java.nio.file.StandardOpenOption.CREATE_NEW,
                        java.nio.file.StandardOpenOption.WRITE)) {
            for (long at = 0; at < size; at += chunk.length) {
                rnd.nextBytes(chunk);
                d.write(ByteBuffer.wrap(chunk), at);
                out.write(ByteBuffer.wrap(chunk), at);
            }
        }
        Path qPool = Files.createDirectories(base.resolve("qcow2-pool"));
        ImageFormats.byName("qcow2").create(qPool.resolve("master.qcow2"), size);

        List<Double> vhdClones = new ArrayList<>();
        List<Double> qcowClones = new ArrayList<>();
        List<Double> oursMaster = new ArrayList<>();
        List<Double> oursChain = new ArrayList<>();
        List<Double> qemu = new ArrayList<>();
        List<Double> cat = new ArrayList<>();
        try (Pool vp = Backends.byName("vhd").openPool(vhdPool); Pool qp = Backends.byName("qcow2").openPool(qPool)) {
            vp.adoptMaster("master", master);
            qp.adoptMaster("master", qPool.resolve("master.qcow2"));
            vp.createClone("master", "chain");
            try (VirtualDisk c = vp.open("chain", true)) {
                for (long at = 0; at < size; at += 10L * chunk.length) {
                    rnd.nextBytes(chunk);
                    c.write(ByteBuffer.wrap(chunk), at);
                }
            }
            for (int r = 0; r < rounds; r++) {
                List<String> names = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    names.add(String.format("r%d-%05d", r, i));
                }
                vhdClones.add(time(() -> vp.createClones("master", names)));
                qcowClones.add(time(() -> qp.createClones("master", names)));
                for (String name : names) {
                    vp.delete(name);
                    qp.delete(name);
                }
                Path o1 = base.resolve("ours-master.raw");
                Path o2 = base.resolve("ours-chain.raw");
                Path o3 = base.resolve("qemu.raw");
                Path o4 = base.resolve("cat.raw");
                for (Path p : List.of(o1, o2, o3, o4)) {
                    Files.deleteIfExists(p);
                }
                oursMaster.add(time(() -> flatten(vhd, master, o1)));
                oursChain.add(time(() -> flatten(vhd, vhdPool.resolve("chain.vhd"), o2)));
                qemu.add(time(() -> run("qemu-img", "convert", "-f", "vpc", "-O", "raw", master.toString(), o3.toString())));
                cat.add(time(() -> run("sh", "-c", "cat '" + raw + "' > '" + o4 + "'")));
                System.out.printf(Locale.ROOT, "round %d: clones vhd %.3f s, qcow2 %.3f s; to raw: ours master %.3f s, "
                        + "ours chain %.3f s, qemu-img %.3f s, cat %.3f s%n", r + 1, vhdClones.get(r), qcowClones.get(r),
                        oursMaster.get(r), oursChain.get(r), qemu.get(r), cat.get(r));
            }
        }
        double v = median(vhdClones);
        double q = median(qcowClones);
        double m = median(oursMaster);
        double c = median(oursChain);
        double qi = median(qemu);
        double ct = median(cat);
        System.out.printf(Locale.ROOT, "median clones/s: vhd %.0f, qcow2 %.0f (vhd/qcow2 %.2fx)%n", n / v, n / q, q / v);
        System.out.printf(Locale.ROOT, "median to raw (%d MiB): ours master %.3f s (%.0f MiB/s), ours chain %.3f s, "
                + "qemu-img %.3f s, cat %.3f s%n", size >> 20, m, (size >> 20) / m, c, qi, ct);
        System.out.printf(Locale.ROOT, "ratio qemu-img/ours (master) %.2fx; cat/ours: master %.2fx, chain %.2fx%n",
                qi / m, ct / m, ct / c);
    }

    /** The whole guest view of {@code image} (its chain included) into a new raw file. */
    private static void flatten(ImageFormat vhd, Path image, Path out) throws IOException {
        try (VirtualDisk d = vhd.open(image, ImagePolicy.operator(), false, 0)) {
            // Not forced to disk, like qemu-img convert and cat: all measured the same way.
            DiskCopier.copy(d, ImageFormats.byName("raw"), java.util.Map.of(), out, ImagePolicy.operator(), false);
        }
    }

    private interface Action {
        void run() throws Exception;
    }

    private static double time(Action a) throws Exception {
        long t = System.nanoTime();
        a.run();
        return (System.nanoTime() - t) / 1e9;
    }

    private static double median(List<Double> xs) {
        List<Double> sorted = new ArrayList<>(xs);
        sorted.sort(null);
        return sorted.get(sorted.size() / 2);
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }
}
