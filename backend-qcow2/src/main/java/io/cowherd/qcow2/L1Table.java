package io.cowherd.qcow2;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CorruptImageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * An L1 table: one 64-bit entry per L2 table, held whole in memory (QEMU caps it at 32 MiB).
 * Bits 9..55 are the L2 table's offset, bit 63 says its refcount is exactly one. Changes are
 * written by {@link #flush()}, after the L2 tables they point at.
 */
final class L1Table {
    static final long OFFSET_MASK = 0x00fffffffffffe00L;
    static final long COPIED = 1L << 63;

    private final HostFile file;
    private final long tableOffset;
    private final long[] entries;
    private final int clusterSize;
    private final BitSet dirty = new BitSet();

    private L1Table(HostFile file, long tableOffset, long[] entries, int clusterSize) {
        this.file = file;
        this.tableOffset = tableOffset;
        this.entries = entries;
        this.clusterSize = clusterSize;
    }

    static L1Table read(HostFile file, Qcow2Header h) {
        return read(file, h.l1TableOffset, h.l1Size, h.clusterSize(), "L1 table");
    }

    static L1Table read(HostFile file, long offset, int size, int clusterSize, String what) {
        // Never trust a size before the file proves it has the bytes (no allocation on a lie).
        if (size < 0 || offset < 0 || offset + (long) size * 8 > file.size()) {
            throw new CorruptImageException(file.path(), what, offset, Integer.toUnsignedString(size)
                    + " entries run past the end of the file (" + file.size() + " bytes)");
        }
        ByteBuffer buf = ByteBuffer.allocate(size * 8);
        if (size > 0) {
            file.readMetadata(buf, offset, what);
        }
        buf.flip();
        long[] entries = new long[size];
        buf.asLongBuffer().get(entries);
        return new L1Table(file, offset, entries, clusterSize);
    }

    int size() {
        return entries.length;
    }

    long offset() {
        return tableOffset;
    }

    long entry(int index) {
        return entries[index];
    }

    /** The L2 table offset of entry {@code index}, 0 if none; validated before use. */
    long l2Offset(int index) {
        long offset = entries[index] & OFFSET_MASK;
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

    /** Sets entry {@code index}; written at the next {@link #flush()}. */
    void set(int index, long entry) {
        entries[index] = entry;
        dirty.set(index);
    }

    boolean dirty() {
        return !dirty.isEmpty();
    }

    void flush() throws IOException {
        for (int i = dirty.nextSetBit(0); i >= 0; i = dirty.nextSetBit(i + 1)) {
            file.write(ByteBuffer.allocate(8).putLong(0, entries[i]), tableOffset + 8L * i);
        }
        dirty.clear();
    }
}
