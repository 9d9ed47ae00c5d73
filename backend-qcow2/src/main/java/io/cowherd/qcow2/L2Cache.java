package io.cowherd.qcow2;

import io.cowherd.CorruptImageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A bounded, least-recently-used cache of L2 tables, keyed by their offset in the file. Each
 * table is kept as raw entries: one long per cluster, or two (descriptor, subcluster bitmap)
 * with extended L2. Writes go through to the file at once.
 */
final class L2Cache {
    /** Default memory budget: large enough to map 256 GiB at 64 KiB clusters, small for any heap. */
    static final long DEFAULT_BUDGET_BYTES = 4L << 20;

    private final ImageFile file;
    private final int clusterSize;
    private final int maxTables;
    private final LinkedHashMap<Long, long[]> tables;

    L2Cache(ImageFile file, int clusterSize, long budgetBytes) {
        this.file = file;
        this.clusterSize = clusterSize;
        this.maxTables = (int) Math.max(4, budgetBytes / clusterSize);
        this.tables = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, long[]> eldest) {
                return size() > maxTables;
            }
        };
    }

    /** The L2 table at {@code offset}, read from the file on a miss. */
    synchronized long[] get(long offset) {
        long[] t = tables.get(offset);
        if (t == null) {
            ByteBuffer buf = ByteBuffer.allocate(clusterSize);
            file.readMetadata(buf, offset, "L2 table");
            buf.flip();
            t = new long[clusterSize / 8];
            buf.asLongBuffer().get(t);
            tables.put(offset, t);
        }
        return t;
    }

    /** Caches a freshly written, all-zero table without reading it back. */
    synchronized void putEmpty(long offset) {
        tables.put(offset, new long[clusterSize / 8]);
    }

    /** Sets word {@code word} of the table at {@code offset} and writes it through. */
    synchronized void set(long offset, int word, long value) throws IOException {
        long[] t = get(offset);
        ByteBuffer b = ByteBuffer.allocate(8).putLong(0, value);
        file.write(b, offset + 8L * word);
        t[word] = value;
    }

    /** Throws if a data cluster offset read from an L2 entry is not cluster-aligned. */
    void checkDataOffset(long l2Offset, int word, long hostOffset) {
        if ((hostOffset & (clusterSize - 1)) != 0) {
            throw new CorruptImageException(file.path(), "L2 entry " + word, l2Offset + 8L * word,
                    "data cluster offset " + hostOffset + " is not cluster-aligned");
        }
    }
}
