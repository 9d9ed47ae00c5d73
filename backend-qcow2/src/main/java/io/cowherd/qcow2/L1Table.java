package io.cowherd.qcow2;

import io.cowherd.CorruptImageException;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The L1 table: one 64-bit entry per L2 table, held whole in memory (QEMU caps it at
 * 32 MiB). Bits 9..55 are the L2 table's offset, bit 63 says its refcount is exactly one.
 */
final class L1Table {
    static final long OFFSET_MASK = 0x00fffffffffffe00L;
    static final long COPIED = 1L << 63;

    private final ImageFile file;
    private final long tableOffset;
    private final long[] entries;
    private final int clusterSize;

    private L1Table(ImageFile file, long tableOffset, long[] entries, int clusterSize) {
        this.file = file;
        this.tableOffset = tableOffset;
        this.entries = entries;
        this.clusterSize = clusterSize;
    }

    static L1Table read(ImageFile file, Qcow2Header h) {
        ByteBuffer buf = ByteBuffer.allocate(h.l1Size * 8);
        if (h.l1Size > 0) {
            file.readMetadata(buf, h.l1TableOffset, "L1 table");
        }
        buf.flip();
        long[] entries = new long[h.l1Size];
        buf.asLongBuffer().get(entries);
        return new L1Table(file, h.l1TableOffset, entries, h.clusterSize());
    }

    int size() {
        return entries.length;
    }

    /** The L2 table offset of entry {@code index}, 0 if none; validated before use. */
    long l2Offset(int index) {
        long entry = entries[index];
        long offset = entry & OFFSET_MASK;
        if ((offset & (clusterSize - 1)) != 0) {
            throw new CorruptImageException(file.path(), "L1 entry " + index, tableOffset + 8L * index,
                    "L2 table offset " + offset + " is not cluster-aligned");
        }
        return offset;
    }

    /** Whether the L2 table of entry {@code index} is owned by this image alone (refcount 1). */
    boolean copied(int index) {
        return (entries[index] & COPIED) != 0;
    }

    /** Sets entry {@code index} and writes it through to the file. */
    void set(int index, long entry) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8).putLong(0, entry);
        file.write(b, tableOffset + 8L * index);
        entries[index] = entry;
    }
}
