package io.cowherd.benchmarks;

import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.qcow2.Qcow2Format;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Scattered 4 KiB reads and writes through a qcow2 clone of a fully written 1 GiB master:
 * cowherd's {@link VirtualDisk} (one thread, one request at a time) against
 * {@code qemu-img bench -d 1} with the same request count, size and access pattern (each
 * request {@code STEP} bytes after the previous one, modulo the disk size: with
 * STEP = 1 MiB + 4 KiB the requests scatter over every L2 table and cluster). Both go through
 * the page cache ({@code -t writeback}). Prints requests per second and the ratio.
 * Usage: {@code RandomIoVersusQemuImg [DIR] [COUNT=200000] [ROUNDS=3]}.
 */
public final class RandomIoVersusQemuImg {
    private static final long SIZE = 1L << 30;
    private static final int BLOCK = 4096;
    private static final long STEP = (1L << 20) + 4096;

    private RandomIoVersusQemuImg() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("cowherd-randio");
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 200_000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Files.createDirectories(dir);
        Path master = dir.resolve("master.qcow2");
        run(dir, "qemu-img", "create", "-q", "-f", "qcow2", master.toString(), String.valueOf(SIZE));
        run(dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5c 0 " + SIZE, master.toString());
        Qcow2Format f = new Qcow2Format();
        List<Double> ourRead = new ArrayList<>();
        List<Double> qemuRead = new ArrayList<>();
        List<Double> ourWrite = new ArrayList<>();
        List<Double> qemuWrite = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            Path ours = dir.resolve("ours-" + r + ".qcow2");
            Path theirs = dir.resolve("theirs-" + r + ".qcow2");
            f.createOverlay(ours, master, "qcow2", SIZE);
            f.createOverlay(theirs, master, "qcow2", SIZE);
            // Writes first (copy-on-write into fresh clones), then reads of the half-written clones.
            ourWrite.add(count / time(() -> cowherd(f, ours, count, true)));
            qemuWrite.add(count / qemuBench(dir, theirs, count, true));
            ourRead.add(count / time(() -> cowherd(f, ours, count, false)));
            qemuRead.add(count / qemuBench(dir, theirs, count, false));
            run(dir, "qemu-img", "check", "-q", ours.toString());
            run(dir, "qemu-img", "compare", "-q", ours.toString(), theirs.toString());
            System.out.printf(Locale.ROOT, "round %d: reads/s cowherd %.0f, qemu-img %.0f; writes/s cowherd %.0f, qemu-img %.0f%n",
                    r + 1, ourRead.get(r), qemuRead.get(r), ourWrite.get(r), qemuWrite.get(r));
            Files.delete(ours);
            Files.delete(theirs);
        }
        System.out.printf(Locale.ROOT, "median 4 KiB scattered reads/s: cowherd %.0f, qemu-img bench %.0f, ratio %.2fx%n",
                median(ourRead), median(qemuRead), median(ourRead) / median(qemuRead));
        System.out.printf(Locale.ROOT, "median 4 KiB scattered writes/s: cowherd %.0f, qemu-img bench -w %.0f, ratio %.2fx%n",
                median(ourWrite), median(qemuWrite), median(ourWrite) / median(qemuWrite));
    }

    private static void cowherd(Qcow2Format f, Path image, int count, boolean write) throws IOException {
        try (VirtualDisk d = f.open(image, ImagePolicy.operator(), write, 0)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(BLOCK);
            while (buf.hasRemaining()) {
                buf.put((byte) 0xa5); // qemu-img bench --pattern=165
            }
            long offset = 0;
            for (int i = 0; i < count; i++) {
                buf.clear();
                if (write) {
                    d.write(buf, offset);
                } else {
                    d.read(buf, offset);
                }
                offset = (offset + STEP) % SIZE; // as qemu-img bench wraps
            }
            if (write) {
                d.flush();
            }
        }
    }

    private static double qemuBench(Path dir, Path image, int count, boolean write) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "bench", "-c", String.valueOf(count), "-d", "1", "-s",
                String.valueOf(BLOCK), "-S", String.valueOf(STEP), "-f", "qcow2", "-t", "writeback"));
        if (write) {
            cmd.add("-w");
            cmd.add("--pattern=165");
            cmd.add("--flush-interval=" + count);
        }
        cmd.add(image.toString());
        String out = run(dir, cmd.toArray(new String[0]));
        Matcher m = Pattern.compile("Run completed in ([0-9.]+) seconds").matcher(out);
        if (!m.find()) {
            throw new IOException("unexpected qemu-img bench output: " + out);
        }
        return Double.parseDouble(m.group(1));
    }

    interface Action {
        void run() throws Exception;
    }

    private static double time(Action a) throws Exception {
        long t = System.nanoTime();
        a.run();
        return (System.nanoTime() - t) / 1e9;
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        s.sort(null);
        return s.get(s.size() / 2);
    }

    private static String run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String o = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + o);
        }
        return o;
    }
}
