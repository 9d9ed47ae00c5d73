package io.cowherd.internal.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.cowherd.VirtualDisk;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Raw files tell their holes (SEEK_DATA, SEEK_HOLE); copies skip them and write only non-zero 4 KiB units. */
class DiskCopierSparseTest {
    private static final int MIB = 1 << 20;
    private static final long SIZE = 8L * MIB + 100;

    @TempDir
    Path dir;

    /** A hole, 64 KiB of data at an odd place, 1 MiB of written zeros with 100 bytes in it, a hole, the last byte. */
    private Path source(byte[] expect) throws IOException {
        Path p = dir.resolve("src.raw");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        Random r = new Random(1);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            put(ch, expect, MIB + 512, random(r, 65536));
            put(ch, expect, 4L * MIB, new byte[MIB]);
            put(ch, expect, 4L * MIB + 8192 + 5, random(r, 100));
            put(ch, expect, SIZE - 1, new byte[] {7});
        }
        return p;
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        for (int i = 0; i < n; i++) {
            b[i] |= 1;
        }
        return b;
    }

    private static void put(FileChannel ch, byte[] expect, long at, byte[] data) throws IOException {
        ch.write(ByteBuffer.wrap(data), at);
        System.arraycopy(data, 0, expect, (int) at, data.length);
    }

    @Test
    void aRawFileReportsItsHoles() throws IOException {
        Path p = source(new byte[(int) SIZE]);
        Assumptions.assumeTrue(HostFiles.allocatedBytes(p) < SIZE / 2, "this file system stores no holes");
        try (FileDisk d = new FileDisk(p, false)) {
            assertEquals(MIB, d.knownZeroes(0, SIZE), "the hole before the first data");
            assertEquals(4096, d.knownZeroes(0, 4096), "no further than asked");
            assertEquals(0, d.knownZeroes(MIB, SIZE), "data");
            VirtualDisk.Extent run = d.storedAt(MIB, SIZE);
            assertNotNull(run);
            assertEquals(65536 + 4096, run.length(), "the data's 4 KiB blocks, no further");
            assertEquals(3L * MIB - 65536 - 4096, d.knownZeroes(MIB + 69632, SIZE), "up to the written zeros");
            assertEquals(3L * MIB, d.knownZeroes(5L * MIB, SIZE), "up to the last block");
            assertEquals(0, d.knownZeroes(SIZE, 10), "past the end");
        }
    }

    @Test
    void copiesWriteEachRunOfNonZeroUnitsOnceAndNothingElse() throws IOException {
        byte[] expect = new byte[(int) SIZE];
        Path p = source(expect);
        Recorder out = new Recorder(SIZE);
        try (FileDisk in = new FileDisk(p, false)) {
            DiskCopier.copyContent(in, out);
        }
        assertArrayEquals(expect, out.bytes);
        assertEquals(List.of(MIB + ":" + (65536 + 4096), (4L * MIB + 8192) + ":4096", (SIZE - 100) + ":100"),
                out.writes, "one write per run of 4 KiB units holding data, aligned");
    }

    @Test
    void zerosAreFoundWhereverTheyAre() {
        ByteBuffer b = ByteBuffer.allocateDirect(4099);
        assertEquals(true, DiskCopier.isZero(b));
        for (int at : new int[] {0, 7, 8, 4095, 4098}) {
            b.put(at, (byte) 1);
            assertEquals(false, DiskCopier.isZero(b), "byte " + at);
            assertEquals(at < 3, DiskCopier.isZero(b.position(3)), "from position 3, byte " + at);
            b.clear().put(at, (byte) 0);
        }
        assertEquals(true, DiskCopier.isZero(ByteBuffer.allocate(13).position(1)));
    }

    /** An in-memory disk that records its writes as "position:length". */
    private static final class Recorder implements VirtualDisk {
        final byte[] bytes;
        final List<String> writes = new ArrayList<>();

        Recorder(long size) {
            bytes = new byte[(int) size];
        }

        @Override
        public long size() {
            return bytes.length;
        }

        @Override
        public boolean isWritable() {
            return true;
        }

        @Override
        public int read(ByteBuffer dst, long position) {
            int n = Math.min(dst.remaining(), bytes.length - (int) position);
            dst.put(bytes, (int) position, n);
            return n;
        }

        @Override
        public int write(ByteBuffer src, long position) {
            int n = src.remaining();
            writes.add(position + ":" + n);
            src.get(bytes, (int) position, n);
            return n;
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    }
}
