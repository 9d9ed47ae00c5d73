package io.cowherd.vhd;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CorruptImageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The block allocation table: one big-endian u32 per block, the sector where the block (its
 * sector bitmap, then its data) starts, or {@link #UNUSED}. Every entry is bounds-checked when
 * the table is read, so no later read or write can reach outside the file or into metadata.
 */
final class BlockAllocationTable {
    static final int UNUSED = 0xFFFFFFFF;

    private final Path file;
    private final long tableOffset;
    private final int[] entries;

    private BlockAllocationTable(Path file, long tableOffset, int[] entries) {
        this.file = file;
        this.tableOffset = tableOffset;
        this.entries = entries;
    }

    /** An empty table of {@code count} entries, as bytes padded to a sector. */
    static byte[] emptyBytes(int count) {
        byte[] b = new byte[(int) VhdLayout.tableBytes(count)];
        Arrays.fill(b, (byte) 0xFF);
        return b;
    }

    /**
     * Reads and validates the table: every used entry must be sector-aligned, lie inside
     * {@code fileSize} with room for a whole block, and not overlap the footer copy, the dynamic
     * header or the table itself.
     */
    static BlockAllocationTable read(HostFile f, long headerOffset, DynamicHeader h, long fileSize) {
        int count = h.maxTableEntries;
        byte[] raw = f.readMetadata(h.tableOffset, count * 4, "block allocation table");
        ByteBuffer b = ByteBuffer.wrap(raw);
        int[] entries = new int[count];
        long blockBytes = (long) h.bitmapBytes() + h.blockSize;
        long tableEnd = h.tableOffset + VhdLayout.tableBytes(count);
        for (int i = 0; i < count; i++) {
            int e = b.getInt(i * 4);
            entries[i] = e;
            if (e == UNUSED) {
                continue;
            }
            long start = (e & 0xFFFFFFFFL) * VhdLayout.SECTOR;
            long end = start + blockBytes;
            String problem = null;
            if (end > fileSize) {
                problem = "block " + i + " at " + start + " (" + blockBytes + " bytes) runs past the end of the file ("
                        + fileSize + " bytes)";
            } else if (start < VhdFooter.SIZE) {
                problem = "block " + i + " at " + start + " overlaps the footer copy";
            } else if (start < headerOffset + DynamicHeader.SIZE && end > headerOffset) {
                problem = "block " + i + " at " + start + " overlaps the dynamic header";
            } else if (start < tableEnd && end > h.tableOffset) {
                problem = "block " + i + " at " + start + " overlaps the block allocation table";
            }
            if (problem != null) {
                throw new CorruptImageException(f.path(), "block allocation table entry " + i,
                        h.tableOffset + 4L * i, problem);
            }
        }
        return new BlockAllocationTable(f.path(), h.tableOffset, entries);
    }

    int size() {
        return entries.length;
    }

    boolean isAllocated(int block) {
        return entries[block] != UNUSED;
    }

    /** Byte offset of block {@code block}'s sector bitmap, or -1 when unallocated. */
    long blockOffset(int block) {
        int e = entries[block];
        return e == UNUSED ? -1 : (e & 0xFFFFFFFFL) * VhdLayout.SECTOR;
    }

    /** Points {@code block} at {@code offset} (sector-aligned) in memory and on disk. */
    void set(HostFile f, int block, long offset) throws IOException {
        int sector = offset < 0 ? UNUSED : (int) (offset / VhdLayout.SECTOR);
        if (offset >= 0 && (offset % VhdLayout.SECTOR != 0 || offset / VhdLayout.SECTOR >= 0xFFFFFFFFL)) {
            throw new IllegalStateException(file + ": block offset " + offset + " cannot be recorded");
        }
        f.write(ByteBuffer.allocate(4).putInt(0, sector), tableOffset + 4L * block);
        entries[block] = sector;
    }

    /** Marks {@code block} unallocated in memory only (the caller rewrites the table on disk). */
    void forget(int block) {
        entries[block] = UNUSED;
    }

    /** Number of used entries. */
    int allocatedCount() {
        int n = 0;
        for (int e : entries) {
            if (e != UNUSED) {
                n++;
            }
        }
        return n;
    }
}
