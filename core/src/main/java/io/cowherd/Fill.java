package io.cowherd;

/**
 * How full one piece of fixed-size copy-on-write storage is: a snapshot's copy-on-write store,
 * or a thin pool's data or metadata.
 *
 * @param kind what fills
 * @param volume the volume it belongs to (the clone), or the thin pool's name
 * @param percent how full, 0-100
 * @param size its current size in bytes
 * @param lost whether the storage overflowed or failed and the kernel dropped the snapshot: its
 *        writes are gone and it can no longer be used (only a snapshot store can be lost)
 */
public record Fill(Kind kind, String volume, double percent, long size, boolean lost) {
    /** What fills. */
    public enum Kind {
        /** A snapshot's copy-on-write store: at 100% the clone is invalidated for good. */
        SNAPSHOT_COW,
        /** A thin pool's data: when full, writes queue and then fail. */
        THIN_DATA,
        /** A thin pool's metadata: when full, the pool goes read-only. */
        THIN_METADATA
    }

    /** A fill level of storage that still works. */
    public Fill(Kind kind, String volume, double percent, long size) {
        this(kind, volume, percent, size, false);
    }
}
