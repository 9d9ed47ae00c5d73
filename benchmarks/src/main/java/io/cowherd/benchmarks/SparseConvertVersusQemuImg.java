package io.cowherd.benchmarks;

import io.cowherd.ImagePolicy;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.FileDisk;
import io.cowherd.internal.io.HostFiles;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Sparse- and zero-aware convert, cowherd (in-process {@link DiskCopier}, as {@code cowherd
 * convert} runs it) against {@code qemu-img convert}, in one run on the same files: raw sources
 * of SIZE GiB (a hole; 10% random data in 64 KiB pieces at random 4 KiB-aligned places among
 * holes; the same among written zeros) to qcow2 and to VHD ({@code -O vpc}). Prints median
 * times, the ratio cowherd/qemu-img (goal &lt;= 1) and the bytes each output allocates (goal:
 * cowherd's no more than qemu-img's). Neither side forces the output to disk. The JVM's first
 * conversions (JNA loading, JIT compilation) are a warm-up, shown but not counted.
 * Usage: {@code SparseConvertVersusQemuImg [DIR] [SIZE_GIB=2] [ROUNDS=5]}.
 */
public final class SparseConvertVersusQemuImg {
    private static final int PIECE = 64 * 1024;
    private static final int BLOCK = 4096;

    private SparseConvertVersusQemuImg() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("cowherd-sparse");
        long size = (args.length > 1 ? Long.parseLong(args[1]) : 2) << 30;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        Files.createDirectories(dir);
        System.out.printf(Locale.ROOT, "sparse convert benchmark: %d GiB raw sources, %d rounds, in %s%n",
                size >> 30, rounds, dir);
        Path sparse = dir.resolve("sparse.raw");
        Path amongHoles = dir.resolve("data10-holes.raw");
        Path amongZeros = dir.resolve("data10-zeros.raw");
        truncate(sparse, size);
        BitSet data = scatter(size);
        truncate(amongHoles, size);
        writeData(amongHoles, data, size, false);
        truncate(amongZeros, size);
        writeData(amongZeros, data, size, true);
        run(dir, "sync"); // the sources' writeback must not slow the first conversions down

        String[][] formats = {{"qcow2", "qcow2"}, {"vhd", "vpc"}};
        Path out = dir.resolve("out");
        // A JVM's first conversions run cold (JNA loads, the JIT compiles): three of each format
        // warm it up, the first shown, none counted.
        for (String[] f : formats) {
            List<Double> warmUp = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                warmUp.add(time(() -> convert(amongHoles, ImageFormats.byName(f[0]), out)));
                Files.delete(out);
            }
            System.out.printf(Locale.ROOT, "warm-up (not counted), %s -> %s: %.3f s cold, then %.3f s, %.3f s%n",
                    amongHoles.getFileName(), f[0], warmUp.get(0), warmUp.get(1), warmUp.get(2));
        }
        for (Path src : List.of(sparse, amongHoles, amongZeros)) {
            for (String[] f : formats) {
                ImageFormat ours = ImageFormats.byName(f[0]);
                List<Double> us = new ArrayList<>();
                List<Double> them = new ArrayList<>();
                long usBytes = 0;
                long themBytes = 0;
                for (int r = 0; r < rounds; r++) {
                    us.add(time(() -> convert(src, ours, out)));
                    if (r == 0) {
                        run(dir, "qemu-img", "compare", "-q", "-f", "raw", "-F", f[1], src.toString(), out.toString());
                    }
                    usBytes = HostFiles.allocatedBytes(out);
                    Files.delete(out);
                    them.add(time(() -> run(dir, "qemu-img", "convert", "-f", "raw", "-O", f[1], src.toString(),
                            out.toString())));
                    themBytes = HostFiles.allocatedBytes(out);
                    Files.delete(out);
                }
                System.out.printf(Locale.ROOT, "%-17s -> %-5s: cowherd %.3f s, qemu-img %.3f s, ratio cowherd/qemu-img "
                        + "%.2f; allocated cowherd %s, qemu-img %s%n", src.getFileName(), f[0], median(us),
                        median(them), median(us) / median(them), human(usBytes), human(themBytes));
            }
        }
        for (Path p : List.of(sparse, amongHoles, amongZeros)) {
            Files.delete(p);
        }
    }

    private static void convert(Path src, ImageFormat format, Path out) throws IOException {
        try (FileDisk in = new FileDisk(src, false)) {
            DiskCopier.copy(in, format, Map.of(), out, ImagePolicy.operator(), false);
        }
    }

    private static void truncate(Path file, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
    }

    /** 4 KiB blocks that hold data: 64 KiB pieces at random block-aligned places until 10% are set. */
    private static BitSet scatter(long size) {
        int blocks = (int) (size / BLOCK);
        BitSet set = new BitSet(blocks);
        SplittableRandom r = new SplittableRandom(3);
        while (set.cardinality() < blocks / 10) {
            int at = r.nextInt(blocks - PIECE / BLOCK);
            set.set(at, at + PIECE / BLOCK);
        }
        return set;
    }

    /** Writes random bytes to the blocks in {@code data}; with {@code zeros}, zero bytes to every other block. */
    private static void writeData(Path file, BitSet data, long size, boolean zeros) throws IOException {
        SplittableRandom r = new SplittableRandom(4);
        ByteBuffer random = ByteBuffer.allocateDirect(BLOCK);
        ByteBuffer zero = ByteBuffer.allocateDirect(BLOCK);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            for (int b = 0; b < size / BLOCK; b++) {
                ByteBuffer buf;
                if (data.get(b)) {
                    random.clear();
                    while (random.hasRemaining()) {
                        random.putLong(r.nextLong() | 1);
                    }
                    buf = random.flip();
                } else if (zeros) {
                    buf = zero.clear();
                } else {
                    continue;
                }
                while (buf.hasRemaining()) {
                    ch.write(buf, (long) b * BLOCK + buf.position());
                }
            }
        }
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

    private static String human(long bytes) {
        return bytes < 1 << 20 ? String.format(Locale.ROOT, "%d KiB", bytes >> 10)
                : String.format(Locale.ROOT, "%.2f MiB", bytes / (double) (1 << 20));
    }

    private static void run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String o = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + o);
        }
    }
}
