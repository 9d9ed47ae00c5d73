package io.cowherd.qcow2;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CorruptImageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The two-level refcount structure: a table of refcount block offsets, each block an array of
 * {@code 2^refcount_order}-bit big-endian counts, one per host cluster. Loaded for images opened
 * for writing or checking. Changes are kept in memory and written by {@link #flush()}; new
 * clusters are allocated at the end of the file and never reused, so a crash can only leak.
 */
final class RefcountTable {
    private final HostFile file;
    private final Qcow2Header header;
    private final int clusterSize;
    private final int refcountBits;
    private final long entriesPerBlock;
    private long[] table;
    private long tableOffset;
    private final Map<Long, byte[]> blocks = new HashMap<>();
    private final Set<Long> dirtyBlocks = new LinkedHashSet<>();
    private final Set<Integer> dirtyTableEntries = new LinkedHashSet<>();
    private long nextFree;

    private RefcountTable(HostFile file, Qcow2Header header, long[] table) {
        this.file = file;
        this.header = header;
        this.clusterSize = header.clusterSize();
        this.refcountBits = 1 << header.refcountOrder;
        this.entriesPerBlock = (long) clusterSize * 8 / refcountBits;
        this.table = table;
        this.tableOffset = header.refcountTableOffset;
        // New clusters go past everything the file or its tables reach: a file may end inside
        // its last metadata cluster (QEMU and we write the L1 table only up to its last entry).
        long end = Math.max(file.size(), header.l1TableOffset + 8L * header.l1Size);
        end = Math.max(end, tableOffset + (long) table.length * 8);
        this.nextFree = roundUp(end);
    }

    static RefcountTable read(HostFile file, Qcow2Header h) {
        int bytes = h.refcountTableClusters * h.clusterSize();
        if (h.refcountTableOffset + bytes > file.size()) {
            throw new CorruptImageException(file.path(), "refcount table", h.refcountTableOffset, bytes
                    + " bytes run past the end of the file (" + file.size() + " bytes)");
        }
        ByteBuffer buf = ByteBuffer.allocate(bytes);
        file.readMetadata(buf, h.refcountTableOffset, "refcount table");
        buf.flip();
        long[] table = new long[bytes / 8];
        buf.asLongBuffer().get(table);
        return new RefcountTable(file, h, table);
    }

    private long roundUp(long offset) {
        return (offset + clusterSize - 1) / clusterSize * clusterSize;
    }

    /** Largest refcount this width can hold. */
    long maxRefcount() {
        return refcountBits == 64 ? Long.MAX_VALUE : (1L << refcountBits) - 1;
    }

    /** Allocates one cluster at the end of the file with refcount 1 and returns its offset. */
    long allocateCluster() throws IOException {
        return allocateClusters(1);
    }

    /** Allocates {@code n} contiguous clusters with refcount 1 each; returns the first offset. */
    long allocateClusters(int n) throws IOException {
        long offset = nextFree;
        nextFree += (long) n * clusterSize;
        for (int i = 0; i < n; i++) {
            adjust(offset + (long) i * clusterSize, +1);
        }
        return offset;
    }

    /** The refcount of the cluster at {@code hostOffset}; 0 beyond the table. */
    long get(long hostOffset) {
        long cluster = hostOffset / clusterSize;
        long tableIndex = cluster / entriesPerBlock;
        if (tableIndex >= table.length) {
            return 0;
        }
        long blockOffset = table[(int) tableIndex] & L1Table.OFFSET_MASK;
        if (blockOffset == 0) {
            return 0;
        }
        return get(block(blockOffset, (int) tableIndex), (int) (cluster % entriesPerBlock));
    }

    /** Adds {@code delta} to the refcount of the cluster at {@code hostOffset}. */
    void adjust(long hostOffset, long delta) throws IOException {
        set(hostOffset, get(hostOffset) + delta);
    }

    /** Sets the refcount of the cluster at {@code hostOffset}, allocating a block if needed. */
    void set(long hostOffset, long value) throws IOException {
        long cluster = hostOffset / clusterSize;
        long tableIndex = cluster / entriesPerBlock;
        if (tableIndex >= table.length) {
            grow(tableIndex);
        }
        long blockOffset = table[(int) tableIndex] & L1Table.OFFSET_MASK;
        if (blockOffset == 0) {
            if (value == 0) {
                return;
            }
            blockOffset = newBlock((int) tableIndex);
        }
        if (value < 0 || value > maxRefcount()) {
            throw new CorruptImageException(file.path(), "refcount of cluster " + cluster, blockOffset,
                    "would become " + value + " (width " + refcountBits + " bits)");
        }
        byte[] block = block(blockOffset, (int) tableIndex);
        set(block, (int) (cluster % entriesPerBlock), value);
        dirtyBlocks.add(blockOffset);
    }

    /** Allocates a zeroed refcount block for table entry {@code tableIndex} at the end of the file. */
    private long newBlock(int tableIndex) throws IOException {
        long offset = nextFree;
        nextFree += clusterSize;
        byte[] block = new byte[clusterSize];
        blocks.put(offset, block);
        dirtyBlocks.add(offset);
        table[tableIndex] = offset;
        dirtyTableEntries.add(tableIndex);
        adjust(offset, +1); // the block counts itself, here or in another block
        return offset;
    }

    /**
     * Replaces the table with a larger one at the end of the file. The new table and every block
     * it needs are written first; the header switches to it in one 12-byte write; only then is
     * the old table's space released.
     */
    private void grow(long neededIndex) throws IOException {
        long oldOffset = tableOffset;
        int oldClusters = (int) ((long) table.length * 8 / clusterSize);
        long entriesPerCluster = clusterSize / 8;
        long wanted = Math.max(neededIndex + 1, table.length + table.length / 2 + 1);
        int newClusters = (int) ((wanted + entriesPerCluster - 1) / entriesPerCluster);
        if ((long) newClusters * clusterSize > Qcow2Header.MAX_REFCOUNT_TABLE_BYTES) {
            throw new io.cowherd.UnsupportedFeatureException(file.path() + ": the refcount table would exceed QEMU's "
                    + "8 MiB limit; the image is too large for its cluster size");
        }
        flush(); // everything the old table knows is on disk before we switch
        long newOffset = nextFree;
        nextFree += (long) newClusters * clusterSize;
        long[] bigger = new long[(int) (newClusters * entriesPerCluster)];
        System.arraycopy(table, 0, bigger, 0, table.length);
        table = bigger;
        tableOffset = newOffset;
        for (int i = 0; i < newClusters; i++) {
            adjust(newOffset + (long) i * clusterSize, +1);
        }
        writeDirtyBlocks();
        ByteBuffer t = ByteBuffer.allocate(table.length * 8);
        t.asLongBuffer().put(table);
        file.write(t, tableOffset);
        dirtyTableEntries.clear();
        file.force();
        file.write(ByteBuffer.allocate(12).putLong(0, tableOffset).putInt(8, newClusters), 48);
        file.force();
        header.refcountTableOffset = tableOffset;
        header.refcountTableClusters = newClusters;
        for (int i = 0; i < oldClusters; i++) {
            adjust(oldOffset + (long) i * clusterSize, -1);
        }
    }

    /** Writes every changed block, then every changed table entry (a block before its pointer). */
    void flush() throws IOException {
        writeDirtyBlocks();
        for (int index : new ArrayList<>(dirtyTableEntries)) {
            file.write(ByteBuffer.allocate(8).putLong(0, table[index]), tableOffset + 8L * index);
        }
        dirtyTableEntries.clear();
    }

    private void writeDirtyBlocks() throws IOException {
        for (long offset : new ArrayList<>(dirtyBlocks)) {
            file.write(ByteBuffer.wrap(blocks.get(offset)), offset);
        }
        dirtyBlocks.clear();
    }

    boolean dirty() {
        return !dirtyBlocks.isEmpty() || !dirtyTableEntries.isEmpty();
    }

    /** The offsets of every refcount block the table points at, for the checker. */
    List<Long> blockOffsets() {
        List<Long> out = new ArrayList<>();
        for (long e : table) {
            long o = e & L1Table.OFFSET_MASK;
            if (o != 0) {
                out.add(o);
            }
        }
        return out;
    }

    /** Every cluster from {@code fromCluster} on with a non-zero stored refcount: {cluster, refcount}. */
    List<long[]> storedFrom(long fromCluster) {
        List<long[]> out = new ArrayList<>();
        for (int t = 0; t < table.length; t++) {
            long blockOffset = table[t] & L1Table.OFFSET_MASK;
            long first = t * entriesPerBlock;
            if (blockOffset == 0 || first + entriesPerBlock <= fromCluster) {
                continue;
            }
            byte[] block = block(blockOffset, t);
            for (long c = Math.max(first, fromCluster); c < first + entriesPerBlock; c++) {
                long v = get(block, (int) (c - first));
                if (v != 0) {
                    out.add(new long[] {c, v});
                }
            }
        }
        return out;
    }

    private byte[] block(long offset, int tableIndex) {
        byte[] b = blocks.get(offset);
        if (b == null) {
            if ((offset & (clusterSize - 1)) != 0) {
                throw new CorruptImageException(file.path(), "refcount table entry " + tableIndex,
                        tableOffset + 8L * tableIndex, "block offset " + offset + " is not cluster-aligned");
            }
            ByteBuffer buf = ByteBuffer.allocate(clusterSize);
            file.readMetadata(buf, offset, "refcount block");
            b = buf.array();
            blocks.put(offset, b);
        }
        return b;
    }

    private long get(byte[] block, int index) {
        if (refcountBits >= 8) {
            int bytes = refcountBits / 8;
            long v = 0;
            for (int i = 0; i < bytes; i++) {
                v = (v << 8) | (block[index * bytes + i] & 0xff);
            }
            return v;
        }
        // Sub-byte widths pack from the least significant bit of each byte, as QEMU does.
        int bit = index * refcountBits;
        return (block[bit / 8] >> (bit % 8)) & ((1 << refcountBits) - 1);
    }

    private void set(byte[] block, int index, long value) {
        if (refcountBits >= 8) {
            int bytes = refcountBits / 8;
            for (int i = bytes - 1; i >= 0; i--) {
                block[index * bytes + i] = (byte) value;
                value >>>= 8;
            }
            return;
        }
        int bit = index * refcountBits;
        int shift = bit % 8;
        int mask = ((1 << refcountBits) - 1) << shift;
        block[bit / 8] = (byte) ((block[bit / 8] & ~mask) | ((int) value << shift & mask));
    }
}
