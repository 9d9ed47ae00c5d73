package io.cowherd.qcow2;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CorruptImageException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The internal snapshot table: for each snapshot its own L1 table (and VM state, which we never
 * read). Parsed with QEMU's limits; kept intact by writers, which copy shared clusters before
 * changing them.
 */
final class SnapshotTable {
    static final long MAX_TABLE_BYTES = 64L << 20;
    static final int MAX_EXTRA_DATA = 1024;
    private static final int FIXED = 40;

    /** One snapshot: where its L1 table is and how long it is. */
    record Snapshot(String id, String name, long l1TableOffset, int l1Size) {
    }

    private final List<Snapshot> snapshots;
    private final long tableBytes;

    private SnapshotTable(List<Snapshot> snapshots, long tableBytes) {
        this.snapshots = snapshots;
        this.tableBytes = tableBytes;
    }

    static SnapshotTable read(HostFile file, Qcow2Header h) {
        List<Snapshot> list = new ArrayList<>();
        long at = h.snapshotsOffset;
        for (int i = 0; i < h.nbSnapshots; i++) {
            if (at - h.snapshotsOffset + FIXED > MAX_TABLE_BYTES) {
                throw new CorruptImageException(file.path(), "snapshot table", h.snapshotsOffset,
                        "exceeds QEMU's 64 MiB limit");
            }
            ByteBuffer e = ByteBuffer.allocate(FIXED);
            file.readMetadata(e, at, "snapshot " + i);
            long l1Offset = e.getLong(0);
            int l1Size = e.getInt(8);
            int idSize = e.getShort(12) & 0xffff;
            int nameSize = e.getShort(14) & 0xffff;
            int extra = e.getInt(36);
            if (extra < 0 || extra > MAX_EXTRA_DATA) {
                throw new CorruptImageException(file.path(), "snapshot " + i + " extra_data_size", at + 36,
                        extra + " exceeds QEMU's limit of " + MAX_EXTRA_DATA);
            }
            if (l1Size < 0 || (long) l1Size * 8 > Qcow2Header.MAX_L1_BYTES) {
                throw new CorruptImageException(file.path(), "snapshot " + i + " l1_size", at + 8,
                        Integer.toUnsignedString(l1Size) + " entries exceed QEMU's 32 MiB L1 limit");
            }
            if ((l1Offset & (h.clusterSize() - 1)) != 0 || l1Offset < 0) {
                throw new CorruptImageException(file.path(), "snapshot " + i + " l1_table_offset", at,
                        "offset " + l1Offset + " is not cluster-aligned");
            }
            long strings = at + FIXED + extra;
            ByteBuffer names = ByteBuffer.allocate(idSize + nameSize);
            file.readMetadata(names, strings, "snapshot " + i + " names");
            String id = new String(names.array(), 0, idSize, java.nio.charset.StandardCharsets.UTF_8);
            String name = new String(names.array(), idSize, nameSize, java.nio.charset.StandardCharsets.UTF_8);
            list.add(new Snapshot(id, name, l1Offset, l1Size));
            long size = FIXED + (long) extra + idSize + nameSize;
            at += (size + 7) & ~7L;
        }
        long bytes = at - h.snapshotsOffset;
        if (bytes > MAX_TABLE_BYTES) {
            throw new CorruptImageException(file.path(), "snapshot table", h.snapshotsOffset, "exceeds QEMU's 64 MiB limit");
        }
        return new SnapshotTable(List.copyOf(list), bytes);
    }

    List<Snapshot> snapshots() {
        return snapshots;
    }

    /** Bytes the table occupies in the file. */
    long tableBytes() {
        return tableBytes;
    }
}
