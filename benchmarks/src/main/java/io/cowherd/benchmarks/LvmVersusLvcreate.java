package io.cowherd.benchmarks;

import io.cowherd.VirtualDisk;
import io.cowherd.lvm.LvmBackend;
import io.cowherd.lvm.LvmPool;
import io.cowherd.lvm.LvmSettings;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Runs inside a kernel with the device mapper and LVM (benchmarks/run-lvm-benchmark.sh boots
 * User-mode Linux for it), on a volume group of two loop-backed sparse PVs. In the same run, for
 * classic and thin pools: N clones through cowherd (one {@code createClones} call, and N
 * {@code createClone} calls) against a bare loop of N {@code lvcreate -s}; the time of the 1st,
 * 10th and 50th clone of one master (LVM metadata grows with each); sequential write throughput
 * into a clone of each kind and into a plain LV.
 * Arguments: N (default 50), master size in MiB (default 64), work directory.
 */
public final class LvmVersusLvcreate {
    /** How many turns the ways of cloning take. */
    private static final int ROUNDS = 5;
    private LvmVersusLvcreate() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        int mib = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        Path work = args.length > 2 ? Files.createDirectories(Path.of(args[2]))
                : Files.createTempDirectory("cowherd-lvm-bench");
        Path src = work.resolve("golden.raw");
        byte[] block = new byte[1 << 20];
        new Random(1).nextBytes(block);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            for (int i = 0; i < mib; i++) {
                f.write(block);
            }
        }
        List<String> loops = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path pv = work.resolve("pv" + i);
            try (RandomAccessFile f = new RandomAccessFile(pv.toFile(), "rw")) {
                f.setLength(16L << 30);
            }
            loops.add(sh("losetup", "-f", "--show", pv.toString()).strip());
        }
        String vg = "cwbench";
        sh(concat(List.of("pvcreate", "-q", "-y"), loops));
        sh(concat(List.of("vgcreate", "-q", "-y", vg), loops));
        sh("lvcreate", "-q", "-y", "-T", "-L", (4 * mib + 256) + "m", vg + "/tp");
        try {
            System.out.printf("LVM clones in User-mode Linux: N=%d, master %d MiB, one kernel run%n", n, mib);
            for (boolean thin : new boolean[] {false, true}) {
                run(thin, vg, src, n);
            }
        } finally {
            sh("vgremove", "-q", "-y", "-ff", vg);
            sh(concat(List.of("pvremove", "-q", "-y"), loops));
            for (String l : loops) {
                sh("losetup", "-d", l);
            }
        }
    }

    private static void run(boolean thin, String vg, Path src, int n) throws Exception {
        String kind = thin ? "thin" : "classic";
        Path loc = thin ? Path.of("/dev", vg, "tp") : Path.of("/dev", vg);
        LvmPool pool = new LvmBackend().openPool(loc, LvmSettings.defaults().withCowPercent(100));
        pool.importMaster("m" + kind, src, "raw");
        String master = "m" + kind;
        long cow = Files.size(src);
        // Process starts in User-mode Linux vary a lot from minute to minute, so the five ways take
        // turns: ROUNDS rounds, each way making n / ROUNDS clones per round (removed after each
        // round), and each way's times are summed over the rounds.
        int per = Math.max(1, n / ROUNDS);
        int total = per * ROUNDS;
        double bare = 0;
        double bash = 0;
        double batch = 0;
        double single = 0;
        double processes = 0;
        for (int round = 0; round < ROUNDS; round++) {
            int r = round;
            List<String> names = IntStream.range(0, per).mapToObj(i -> kind + "-" + r + "-" + i).toList();
            List<String> bareNames = names.stream().map(c -> vg + "/bare-" + c).toList();

            long t0 = System.nanoTime();
            for (String c : names) {
                List<String> cmd = new ArrayList<>(List.of("lvcreate", "-q", "-y", "-s", "-n", "bare-" + c));
                if (!thin) {
                    cmd.addAll(List.of("-L", cow + "b"));
                }
                cmd.addAll(List.of("-kn", "-ay", vg + "/" + master));
                sh(cmd);
            }
            bare += (System.nanoTime() - t0) / 1e9;
            sh(concat(List.of("lvremove", "-q", "-y", "-f"), bareNames));

            // The same loop as an operator's shell script: one lvm process per clone, no JVM spawn helper.
            String script = "for c in " + String.join(" ", names) + "; do lvm lvcreate -q -y -s -n bare-$c "
                    + (thin ? "" : "-L " + cow + "b ") + "-kn -ay " + vg + "/" + master + " || exit 1; done";
            t0 = System.nanoTime();
            sh("bash", "-c", script);
            bash += (System.nanoTime() - t0) / 1e9;
            sh(concat(List.of("lvremove", "-q", "-y", "-f"), bareNames));

            t0 = System.nanoTime();
            pool.createClones(master, names);
            batch += (System.nanoTime() - t0) / 1e9;
            pool.deleteAll(names);

            t0 = System.nanoTime();
            for (String c : names) {
                pool.createClone(master, c);
            }
            single += (System.nanoTime() - t0) / 1e9;
            pool.deleteAll(names);

            // Without the lvm shell: one process per LVM command, as before it existed.
            System.setProperty("cowherd.lvm.shell", "false");
            t0 = System.nanoTime();
            for (String c : names) {
                pool.createClone(master, c);
            }
            processes += (System.nanoTime() - t0) / 1e9;
            pool.deleteAll(names);
            System.clearProperty("cowherd.lvm.shell");
        }
        double best = Math.min(bare, bash);

        System.out.printf("%-7s %d clones per way, in %d alternating rounds%n", kind, total, ROUNDS);
        System.out.printf("%-7s bare lvcreate loop from Java: %6.2f s (%5.2f clones/s)%n", kind, bare, total / bare);
        System.out.printf("%-7s bare lvcreate loop in bash:   %6.2f s (%5.2f clones/s)%n", kind, bash, total / bash);
        System.out.printf("%-7s cowherd createClones:         %6.2f s (%5.2f clones/s) = %.2fx the faster bare loop%n",
                kind, batch, total / batch, batch / best);
        System.out.printf("%-7s cowherd createClone x N:      %6.2f s (%5.2f clones/s) = %.2fx the faster bare loop%n",
                kind, single, total / single, single / best);
        System.out.printf("%-7s  the same, one lvm process per command: %6.2f s = %.2fx%n", kind, processes,
                processes / best);

        // Time of the k-th clone as the master gathers clones.
        List<String> gathered = new ArrayList<>();
        StringBuilder line = new StringBuilder(kind + " time of clone #k of one master:");
        for (int k = 1; k <= 50; k++) {
            String c = kind + "-g" + k;
            long t0 = System.nanoTime();
            pool.createClone(master, c);
            double s = (System.nanoTime() - t0) / 1e9;
            gathered.add(c);
            if (k == 1 || k == 10 || k == 50) {
                line.append(String.format(" #%d %.3f s", k, s));
            }
        }
        System.out.println(line);

        // Sequential write into a clone (first write of each chunk: the copy-on-write path).
        // Half the master: a classic COW area of 100% of the master holds less than the master's
        // size of data (the exception store's own metadata takes some), so a full write overflows it.
        long written = Files.size(src) / 2;
        double mbps = writeThroughput(pool, gathered.get(0), written);
        System.out.printf("%-7s sequential write of %d MiB into a clone: %.1f MiB/s%n", kind, written >> 20, mbps);
        pool.deleteAll(gathered);
        pool.delete(master);
        if (!thin) {
            sh("lvcreate", "-q", "-y", "-Wn", "-n", "plain", "-L", cow + "b", vg);
            double plain = writeDevice(Path.of("/dev", vg, "plain"), written);
            System.out.printf("plain   sequential write of %d MiB into a linear LV: %.1f MiB/s%n", written >> 20, plain);
            sh("lvremove", "-q", "-y", vg + "/plain");
        }
    }

    private static double writeThroughput(LvmPool pool, String clone, long bytes) throws IOException {
        byte[] b = new byte[1 << 20];
        new Random(2).nextBytes(b);
        try (VirtualDisk d = pool.open(clone, true)) {
            long t0 = System.nanoTime();
            for (long pos = 0; pos + b.length <= bytes; pos += b.length) {
                d.write(ByteBuffer.wrap(b), pos);
            }
            d.flush();
            return bytes / 1048576.0 / ((System.nanoTime() - t0) / 1e9);
        }
    }

    private static double writeDevice(Path dev, long bytes) throws IOException {
        byte[] b = new byte[1 << 20];
        new Random(3).nextBytes(b);
        try (var ch = java.nio.channels.FileChannel.open(dev, java.nio.file.StandardOpenOption.WRITE)) {
            long t0 = System.nanoTime();
            for (long pos = 0; pos + b.length <= bytes; pos += b.length) {
                ByteBuffer bb = ByteBuffer.wrap(b);
                while (bb.hasRemaining()) {
                    ch.write(bb, pos + bb.position());
                }
            }
            ch.force(true);
            return bytes / 1048576.0 / ((System.nanoTime() - t0) / 1e9);
        }
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> r = new ArrayList<>(a);
        r.addAll(b);
        return r;
    }

    private static String sh(String... cmd) throws IOException, InterruptedException {
        return sh(List.of(cmd));
    }

    private static String sh(List<String> cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("LVM_SUPPRESS_FD_WARNINGS", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }
}
