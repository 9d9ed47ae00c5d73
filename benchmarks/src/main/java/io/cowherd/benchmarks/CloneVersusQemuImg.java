package io.cowherd.benchmarks;

import io.cowherd.Pool;
import io.cowherd.Volume;
import io.cowherd.qcow2.Qcow2Backend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * End to end, in one run: N qcow2 clones of one master through cowherd's API against a shell
 * loop of {@code qemu-img create -f qcow2 -b master -F qcow2} for the same N, and the ratio.
 * A sample of cowherd's clones is checked with {@code qemu-img check} so speed is never
 * bought with wrong images. Usage: {@code CloneVersusQemuImg [N] [SIZE] [DIR] [ROUNDS]}.
 */
public final class CloneVersusQemuImg {
    private CloneVersusQemuImg() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        String size = args.length > 1 ? args[1] : "20G";
        Path base = args.length > 2 ? Path.of(args[2]) : Files.createTempDirectory("cowherd-bench");
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Files.createDirectories(base);
        System.out.printf(Locale.ROOT, "clone benchmark: %d clones of a %s qcow2 master, %d rounds, in %s%n", n, size,
                rounds, base);
        List<Double> ours = new ArrayList<>();
        List<Double> oursSingle = new ArrayList<>();
        List<Double> qemu = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            Path dir = Files.createDirectories(base.resolve("round-" + r));
            run(dir, "qemu-img", "create", "-q", "-f", "qcow2", "master.qcow2", size);
            try (Pool pool = new Qcow2Backend().openPool(dir)) {
                pool.adoptMaster("master", dir.resolve("master.qcow2"));
                List<String> names = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    names.add(String.format("c%05d", i));
                }
                long t0 = System.nanoTime();
                List<Volume> made = pool.createClones("master", names);
                ours.add((System.nanoTime() - t0) / 1e9);
                long t1 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    pool.createClone("master", String.format("s%05d", i));
                }
                oursSingle.add((System.nanoTime() - t1) / 1e9);
                for (Volume v : List.of(made.get(0), made.get(n / 2), made.get(n - 1))) {
                    run(dir, "qemu-img", "check", "-q", "-f", "qcow2", v.path().toString());
                }
            }
            Path qdir = Files.createDirectories(dir.resolve("qemu"));
            Files.copy(dir.resolve("master.qcow2"), qdir.resolve("master.qcow2"));
            String loop = "for i in $(seq 1 " + n + "); do qemu-img create -q -f qcow2 -b master.qcow2 -F qcow2 q$i.qcow2"
                    + " || exit 1; done";
            long t2 = System.nanoTime();
            run(qdir, "bash", "-c", loop);
            qemu.add((System.nanoTime() - t2) / 1e9);
            deleteTree(dir);
            System.out.printf(Locale.ROOT, "round %d: cowherd batch %.3f s, cowherd one-by-one %.3f s, qemu-img loop %.3f s%n",
                    r + 1, ours.get(r), oursSingle.get(r), qemu.get(r));
        }
        double o = median(ours);
        double s = median(oursSingle);
        double q = median(qemu);
        System.out.printf(Locale.ROOT, "median: cowherd batch %.3f s (%.0f clones/s), one-by-one %.3f s (%.0f clones/s), "
                + "qemu-img %.3f s (%.0f clones/s)%n", o, n / o, s, n / s, q, n / q);
        System.out.printf(Locale.ROOT, "ratio (qemu-img time / cowherd time): batch %.1fx, one-by-one %.1fx%n", q / o, q / s);
    }

    private static double median(List<Double> xs) {
        List<Double> sorted = new ArrayList<>(xs);
        sorted.sort(null);
        return sorted.get(sorted.size() / 2);
    }

    private static void run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
