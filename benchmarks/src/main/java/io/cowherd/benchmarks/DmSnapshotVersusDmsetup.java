package io.cowherd.benchmarks;

import io.cowherd.Backends;
import io.cowherd.Pool;
import io.cowherd.Volume;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Runs inside a kernel with the device mapper (benchmarks/run-dm-snapshot-benchmark.sh boots
 * User-mode Linux for it). In the same kernel run: N clones through cowherd's dm-snapshot backend
 * (ioctls) against a bare shell loop of {@code losetup} + {@code dmsetup create} making the same
 * N snapshots; then sequential reads of a clone's device against the master's device, page cache
 * dropped before each read. Uses only the core API (the backend is found by name).
 * Arguments: N (default 200), master size in MiB (default 256), work directory (default a temp dir).
 */
public final class DmSnapshotVersusDmsetup {
    private DmSnapshotVersusDmsetup() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        long size = (args.length > 1 ? Long.parseLong(args[1]) : 256) << 20;
        Path work = args.length > 2 ? Files.createDirectories(Path.of(args[2]))
                : Files.createTempDirectory("cowherd-dm-bench");
        Path src = work.resolve("golden.img");
        writeMaster(src, size);
        Path poolDir = work.resolve("pool");
        try (Pool pool = Backends.byName("dm-snapshot").openPool(poolDir)) {
            Volume master = pool.importMaster("golden", src, "raw");
            List<String> names = IntStream.range(0, n).mapToObj(i -> String.format("bench-%05d", i)).toList();

            long t0 = System.nanoTime();
            for (String name : names) {
                pool.createClone("golden", name);
            }
            double cowherdOne = (System.nanoTime() - t0) / 1e9;
            for (String name : names) {
                pool.delete(name);
            }
            t0 = System.nanoTime();
            pool.createClones("golden", names);
            double cowherdBatch = (System.nanoTime() - t0) / 1e9;

            double bare = bareShellLoop(work, master.path(), size, n);

            // Sequential read, cold cache: the master's device against a fresh clone's device.
            Path masterDev = Path.of("/dev/mapper/golden");
            Path cloneDev = pool.get(names.get(0)).path();
            double[] m = new double[3];
            double[] c = new double[3];
            for (int i = 0; i < 3; i++) {
                m[i] = readMiBps(masterDev, size);
                c[i] = readMiBps(cloneDev, size);
            }
            Arrays.sort(m);
            Arrays.sort(c);
            for (String name : names) {
                pool.delete(name);
            }
            pool.delete("golden");

            System.out.printf("dm-snapshot clones, N=%d, master %d MiB, same kernel run%n", n, size >> 20);
            System.out.printf("  cowherd, one createClone call each: %8.3f s  %8.1f clones/s%n", cowherdOne, n / cowherdOne);
            System.out.printf("  cowherd, one createClones batch:    %8.3f s  %8.1f clones/s%n", cowherdBatch, n / cowherdBatch);
            System.out.printf("  bare sh loop (truncate+losetup+dmsetup create): %8.3f s  %8.1f clones/s%n", bare, n / bare);
            System.out.printf("  time ratio cowherd(one call each)/bare: %.3f (goal <= 1.1)%n", cowherdOne / bare);
            System.out.printf("sequential read, cold cache, median of 3: master device %.1f MiB/s, clone device %.1f MiB/s "
                    + "(clone/master %.2f)%n", m[1], c[1], c[1] / m[1]);
        }
    }

    private static void writeMaster(Path file, long size) throws IOException {
        byte[] block = new byte[1 << 20];
        Random r = new Random(1);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long at = 0; at < size; at += block.length) {
                r.nextBytes(block);
                ch.write(ByteBuffer.wrap(block, 0, (int) Math.min(block.length, size - at)), at);
            }
        }
    }

    /** The same N snapshots by the usual tools, timed inside the shell so its own start is not counted. */
    private static double bareShellLoop(Path work, Path master, long size, int n) throws Exception {
        Path script = work.resolve("bare.sh");
        String cowBytes = Long.toString(Math.max(size / 10, 1 << 20));
        Files.writeString(script, String.join("\n",
                "set -e",
                "cd '" + work + "'",
                "M=$(losetup -r -f --show '" + master + "')",
                "t0=$(date +%s%N)",
                "i=0",
                "while [ $i -lt " + n + " ]; do",
                "  truncate -s " + cowBytes + " bare-$i.cow",
                "  L=$(losetup -f --show bare-$i.cow)",
                "  dmsetup create bare-$i --table \"0 " + size / 512 + " snapshot $M $L P 16\"",
                "  i=$((i+1))",
                "done",
                "t1=$(date +%s%N)",
                "echo ELAPSED_NS $((t1-t0))",
                "i=0",
                "while [ $i -lt " + n + " ]; do dmsetup remove bare-$i; i=$((i+1)); done",
                "for f in bare-*.cow; do losetup -j \"$PWD/$f\" -O NAME -n | xargs -r losetup -d; done",
                "losetup -d $M",
                "rm -f bare-*.cow",
                ""), StandardCharsets.UTF_8);
        Process p = new ProcessBuilder("sh", script.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("bare loop failed:\n" + out);
        }
        for (String line : out.split("\n")) {
            if (line.startsWith("ELAPSED_NS ")) {
                return Long.parseLong(line.substring(11).trim()) / 1e9;
            }
        }
        throw new IllegalStateException("bare loop printed no time:\n" + out);
    }

    private static double readMiBps(Path device, long size) throws Exception {
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        long t0 = System.nanoTime();
        long total = 0;
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.READ)) {
            while (total < size) {
                buf.clear();
                int r = ch.read(buf, total);
                if (r < 0) {
                    break;
                }
                total += r;
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        return total / 1048576.0 / s;
    }
}
