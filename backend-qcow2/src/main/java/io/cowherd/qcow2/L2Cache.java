package io.cowherd.qcow2;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CorruptImageException;
import io.cowherd.CowIOException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A bounded, least-recently-used cache of L2 tables, keyed by their offset in the file. Each
 * table is kept as raw words: one long per cluster, or two (descriptor, subcluster bitmap) with
 * extended L2. Changed tables are written back on eviction or {@link #flush()}, always after
 * the refcounts that make their new clusters valid ({@link #beforeWrite}).
 */
final class L2Cache {
    /** Default memory budget: maps 32 GiB at 64 KiB clusters, small for any heap. */
    static final long DEFAULT_BUDGET_BYTES = 4L << 20;

    private static final class Table {
        final long[] words;
        boolean dirty;

        Table(long[] words) {
            this.words = words;
        }
    }

    /** Runs before a changed table is written: flushes the refcounts it depends on. */
    interface WriteBarrier {
        void beforeTableWrite() throws IOException;
    }

    private final HostFile file;
    private final int clusterSize;
    private final int maxTables;
    private final LinkedHashMap<Long, Table> tables;
    private WriteBarrier beforeWrite = () -> { };

    L2Cache(HostFile file, int clusterSize, long budgetBytes) {
        this.file = file;
        this.clusterSize = clusterSize;
        this.maxTables = (int) Math.max(4, budgetBytes / clusterSize);
        this.tables = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, Table> eldest) {
                if (size() <= maxTables) {
                    return false;
                }
                if (eldest.getValue().dirty) {
                    try {
                        writeBack(eldest.getKey(), eldest.getValue());
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                return true;
            }
        };
    }

    void onWrite(WriteBarrier barrier) {
        this.beforeWrite = barrier;
    }

    /** The L2 table at {@code offset}, read from the file on a miss. */
    synchronized long[] get(long offset) {
        Table t = tables.get(offset);
        if (t == null) {
            ByteBuffer buf = ByteBuffer.allocate(clusterSize);
            file.readMetadata(buf, offset, "L2 table");
            buf.flip();
            long[] words = new long[clusterSize / 8];
            buf.asLongBuffer().get(words);
            t = new Table(words);
            put(offset, t);
        }
        return t.words;
    }

    /** Caches a new table (all zero, or a copy) to be written at the next flush. */
    synchronized void putNew(long offset, long[] words) {
        Table t = new Table(words);
        t.dirty = true;
        put(offset, t);
    }

    /** Sets word {@code word} of the table at {@code offset}; written at the next flush. */
    synchronized void set(long offset, int word, long value) {
        get(offset);
        Table t = tables.get(offset);
        t.words[word] = value;
        t.dirty = true;
    }

    private void put(long offset, Table t) {
        try {
            tables.put(offset, t);
        } catch (UncheckedIOException e) {
            throw CowIOException.wrap(file.path(), "writing an L2 table of", e);
        }
    }

    synchronized boolean dirty() {
        return tables.values().stream().anyMatch(t -> t.dirty);
    }

    /** Writes every changed table. */
    synchronized void flush() throws IOException {
        for (Map.Entry<Long, Table> e : new ArrayList<>(tables.entrySet())) {
            if (e.getValue().dirty) {
                writeBack(e.getKey(), e.getValue());
            }
        }
    }

    private void writeBack(long offset, Table t) throws IOException {
        beforeWrite.beforeTableWrite();
        ByteBuffer buf = ByteBuffer.allocate(clusterSize);
        buf.asLongBuffer().put(t.words);
        file.write(buf, offset);
        t.dirty = false;
    }

    /** Throws if a data cluster offset read from an L2 entry is not cluster-aligned. */
    void checkDataOffset(long l2Offset, int word, long hostOffset) {
        if ((hostOffset & (clusterSize - 1)) != 0) {
            throw new CorruptImageException(file.path(), "L2 entry " + word, l2Offset + 8L * word,
                    "data cluster offset " + hostOffset + " is not cluster-aligned");
        }
    }

}
