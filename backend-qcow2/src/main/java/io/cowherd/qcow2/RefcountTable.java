package io.cowherd.qcow2;

import io.cowherd.CorruptImageException;
import io.cowherd.UnsupportedFeatureException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * The two-level refcount structure: a table of refcount block offsets, each block an array of
 * {@code 2^refcount_order}-bit big-endian counts, one per host cluster. Loaded only for images
 * opened for writing. New clusters are allocated at the end of the file.
 */
final class RefcountTable {
    private final ImageFile file;
    private final Qcow2Header header;
    private final int clusterSize;
    private final int refcountBits;
    private final long entriesPerBlock;
    private final long[] table;
    private final Map<Long, byte[]> blocks = new HashMap<>();
    private long nextFree;

    private RefcountTable(ImageFile file, Qcow2Header header, long[] table) {
        this.file = file;
        this.header = header;
        this.clusterSize = header.clusterSize();
        this.refcountBits = 1 << header.refcountOrder;
        this.entriesPerBlock = (long) clusterSize * 8 / refcountBits;
        this.table = table;
        // New clusters go past everything the file or its tables reach: a file may end inside
        // its last metadata cluster (QEMU and we write the L1 table only up to its last entry).
        long end = Math.max(file.size(), header.l1TableOffset + 8L * header.l1Size);
        end = Math.max(end, header.refcountTableOffset + (long) table.length * 8);
        this.nextFree = (end + clusterSize - 1) / clusterSize * clusterSize;
    }

    static RefcountTable read(ImageFile file, Qcow2Header h) {
        int bytes = h.refcountTableClusters * h.clusterSize();
        ByteBuffer buf = ByteBuffer.allocate(bytes);
        file.readMetadata(buf, h.refcountTableOffset, "refcount table");
        buf.flip();
        long[] table = new long[bytes / 8];
        buf.asLongBuffer().get(table);
        return new RefcountTable(file, h, table);
    }

    /** Allocates one cluster at the end of the file with refcount 1 and returns its offset. */
    long allocateCluster() throws IOException {
        long offset = nextFree;
        nextFree += clusterSize;
        adjust(offset, +1);
        return offset;
    }

    /** Adds {@code delta} to the refcount of the cluster at {@code hostOffset}. */
    void adjust(long hostOffset, int delta) throws IOException {
        long cluster = hostOffset / clusterSize;
        long tableIndex = cluster / entriesPerBlock;
        if (tableIndex >= table.length) {
            throw new UnsupportedFeatureException(file.path() + ": the image has outgrown its refcount table ("
                    + table.length + " entries); growing it is not supported yet");
        }
        long blockOffset = table[(int) tableIndex] & L1Table.OFFSET_MASK;
        if (blockOffset == 0) {
            blockOffset = newBlock((int) tableIndex);
        }
        byte[] block = block(blockOffset, (int) tableIndex);
        int index = (int) (cluster % entriesPerBlock);
        long value = get(block, index) + delta;
        long max = refcountBits == 64 ? Long.MAX_VALUE : (1L << refcountBits) - 1;
        if (value < 0 || value > max) {
            throw new CorruptImageException(file.path(), "refcount of cluster " + cluster, blockOffset,
                    "would become " + value + " (width " + refcountBits + " bits)");
        }
        set(block, index, value);
        writeEntry(blockOffset, block, index);
    }

    /** Allocates a zeroed refcount block for table entry {@code tableIndex} at the end of the file. */
    private long newBlock(int tableIndex) throws IOException {
        long offset = nextFree;
        nextFree += clusterSize;
        byte[] block = new byte[clusterSize];
        long ownCluster = offset / clusterSize;
        boolean selfCovered = ownCluster / entriesPerBlock == tableIndex;
        if (selfCovered) {
            set(block, (int) (ownCluster % entriesPerBlock), 1);
        }
        file.write(ByteBuffer.wrap(block), offset);
        blocks.put(offset, block);
        // The block exists on disk before the table points at it.
        file.write(ByteBuffer.allocate(8).putLong(0, offset), header.refcountTableOffset + 8L * tableIndex);
        table[tableIndex] = offset;
        if (!selfCovered) {
            adjust(offset, +1);
        }
        return offset;
    }

    private byte[] block(long offset, int tableIndex) {
        byte[] b = blocks.get(offset);
        if (b == null) {
            if ((offset & (clusterSize - 1)) != 0) {
                throw new CorruptImageException(file.path(), "refcount table entry " + tableIndex,
                        header.refcountTableOffset + 8L * tableIndex, "block offset " + offset + " is not cluster-aligned");
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
        int shift = bit % 8;
        return (block[bit / 8] >> shift) & ((1 << refcountBits) - 1);
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

    /** Writes the bytes holding refcount {@code index} of {@code block} back to the file. */
    private void writeEntry(long blockOffset, byte[] block, int index) throws IOException {
        int from;
        int len;
        if (refcountBits >= 8) {
            from = index * (refcountBits / 8);
            len = refcountBits / 8;
        } else {
            from = index * refcountBits / 8;
            len = 1;
        }
        file.write(ByteBuffer.wrap(block, from, len), blockOffset + from);
    }
}
