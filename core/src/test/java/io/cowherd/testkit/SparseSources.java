package io.cowherd.testkit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.internal.io.HostFiles;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Raw sources for sparse-copy tests (a hole, written zeros, data among holes and zeros) and the
 * checks that a copy of one stored nothing where the source had no data: {@code qemu-img map}
 * shows no data extent there and the file allocates little more than the data.
 */
public final class SparseSources {
    /** Not a multiple of a qcow2 cluster or a VHD block: the ragged tail is copied too. */
    public static final long SIZE = 40L * 1024 * 1024 + 12 * 1024;
    private static final int MIB = 1024 * 1024;
    private static final Pattern MAP_ENTRY =
            Pattern.compile("\"start\": (\\d+), \"length\": (\\d+),.*?\"data\": (true|false)");

    /** The kinds of source. */
    public enum Kind {
        /** {@code truncate}: one hole. */
        SPARSE,
        /** Every byte written, all zero. */
        ZEROS,
        /** Data regions, some among written zeros (first half), some among holes (second half). */
        MIXED
    }

    /** A run of bytes: a data region of a source, or a data extent of an image. */
    public record Region(long start, long length) {
        long end() {
            return start + length;
        }
    }

    private SparseSources() {
    }

    /** Writes a source of {@code kind} ({@link #SIZE} bytes) to {@code file}; returns where its non-zero bytes are. */
    public static List<Region> make(Kind kind, Path file) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        List<Region> data = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            if (kind == Kind.SPARSE) {
                return data;
            }
            long zeros = kind == Kind.ZEROS ? SIZE : 20L * MIB;
            ByteBuffer z = ByteBuffer.allocate(MIB);
            for (long at = 0; at < zeros; at += MIB) {
                write(ch, z.clear().limit((int) Math.min(MIB, zeros - at)), at);
            }
            if (kind == Kind.ZEROS) {
                return data;
            }
            // Aligned and unaligned runs, a 64 KiB and a 4 KiB zero gap inside data, the last bytes.
            long[][] runs = {{0, 4096}, {MIB + 512, 3000}, {8L * MIB, MIB}, {9L * MIB + 65536, MIB - 65536},
                {12L * MIB, 100 * 1024}, {12L * MIB + 104 * 1024, 96 * 1024}, {30L * MIB + 7, 10}, {SIZE - 100, 100}};
            Random r = new Random(7);
            for (long[] run : runs) {
                byte[] b = new byte[(int) run[1]];
                r.nextBytes(b);
                for (int i = 0; i < b.length; i++) {
                    b[i] |= 1; // no zero byte, so no zero run hides inside a data region
                }
                write(ch, ByteBuffer.wrap(b), run[0]);
                data.add(new Region(run[0], run[1]));
            }
        }
        return data;
    }

    private static void write(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            at += ch.write(b, at);
        }
    }

    /** The extents {@code qemu-img map} reports as data in {@code image}. */
    public static List<Region> mappedData(Path image, String qemuFormat) throws IOException, InterruptedException {
        String out = PeerTool.ok("qemu-img", "map", "--output=json", "-f", qemuFormat, image.toString());
        List<Region> data = new ArrayList<>();
        Matcher m = MAP_ENTRY.matcher(out);
        while (m.find()) {
            if (m.group(3).equals("true")) {
                data.add(new Region(Long.parseLong(m.group(1)), Long.parseLong(m.group(2))));
            }
        }
        return data;
    }

    /** Bytes in {@code data} once each region is rounded out to {@code unit} (overlaps counted once). */
    public static long footprint(List<Region> data, long unit) {
        long total = 0;
        long coveredTo = 0;
        for (Region d : data) { // regions are in order
            long from = Math.max(coveredTo, d.start() / unit * unit);
            long to = (d.end() + unit - 1) / unit * unit;
            total += Math.max(0, to - from);
            coveredTo = Math.max(coveredTo, to);
        }
        return total;
    }

    /**
     * Asserts that {@code image} is stored sparse: every {@code mapUnit} of a data extent in
     * {@code qemu-img map} holds some of the source's {@code data}, and the file allocates at
     * most the data rounded out to {@code allocUnit} plus {@code metadata} bytes.
     */
    public static void assertSparse(Path image, String qemuFormat, List<Region> data, long mapUnit, long allocUnit,
            long metadata) throws IOException, InterruptedException {
        for (Region e : mappedData(image, qemuFormat)) {
            for (long at = e.start(); at < e.end(); at = (at / mapUnit + 1) * mapUnit) {
                long unitStart = at / mapUnit * mapUnit;
                boolean hasData = data.stream()
                        .anyMatch(d -> d.start() < unitStart + mapUnit && d.end() > unitStart);
                assertTrue(hasData, image + ": qemu-img map shows data at " + at + " (extent " + e
                        + ") where the source has none");
            }
        }
        long allocated = HostFiles.allocatedBytes(image);
        long limit = footprint(data, allocUnit) + metadata;
        assertTrue(allocated <= limit, image + " allocates " + allocated + " bytes, more than " + limit
                + " (data rounded to " + allocUnit + " plus " + metadata + " of metadata)");
    }
}
