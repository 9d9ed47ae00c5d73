package io.cowherd.lvm;

/**
 * How full one piece of LVM storage is.
 *
 * @param kind what fills
 * @param lv the LV it belongs to (the clone, or the thin pool)
 * @param percent how full, 0-100
 * @param size its current size in bytes (copy-on-write area, pool data or pool metadata)
 */
public record Fill(Kind kind, String lv, double percent, long size) {

    /** What fills. */
    public enum Kind {
        /** A classic snapshot's copy-on-write area: at 100% the clone is invalidated for good. */
        SNAPSHOT_COW,
        /** A thin pool's data: when full, writes queue and then fail. */
        THIN_DATA,
        /** A thin pool's metadata: when full, the pool goes read-only. */
        THIN_METADATA
    }
}
