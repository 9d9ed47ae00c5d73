package io.cowherd.dmsnapshot;

/**
 * How full a clone's copy-on-write store is, from the snapshot target's status
 * ({@code dmsetup status}: {@code allocated/total metadata} in sectors).
 *
 * @param cloneName the clone's name
 * @param state whether the snapshot is usable
 * @param allocatedSectors sectors of the store in use (data and metadata)
 * @param totalSectors the store's size in sectors
 * @param metadataSectors sectors of the store holding metadata
 */
record CowUsage(String cloneName, State state, long allocatedSectors, long totalSectors, long metadataSectors) {

    /** The snapshot's condition. */
    public enum State {
        /** Working. */
        VALID,
        /** The store filled up or failed: the kernel dropped the snapshot, its writes are lost. */
        INVALID,
        /** The store filled up (reported so with the {@code PO} store type). */
        OVERFLOW,
        /** The device is not active (not created since boot, or deactivated). */
        INACTIVE
    }

    /** Parses the snapshot target's status text. */
    static CowUsage parse(String clone, String status) {
        String s = status.trim();
        if (s.startsWith("Invalid") || s.startsWith("Merge failed")) {
            return new CowUsage(clone, State.INVALID, 0, 0, 0);
        }
        if (s.startsWith("Overflow")) {
            return new CowUsage(clone, State.OVERFLOW, 0, 0, 0);
        }
        String[] f = s.split("[/ ]");
        if (f.length < 3) {
            throw new KernelException("unexpected snapshot status for clone '" + clone + "': '" + status + "'", 0);
        }
        return new CowUsage(clone, State.VALID, Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]));
    }

    /** The fill level in percent (0-100), 100 for a lost snapshot. */
    public double percentFull() {
        if (state == State.INVALID || state == State.OVERFLOW) {
            return 100;
        }
        return totalSectors == 0 ? 0 : 100.0 * allocatedSectors / totalSectors;
    }

    /** Whether the kernel has given up on this snapshot. */
    public boolean lost() {
        return state == State.INVALID || state == State.OVERFLOW;
    }
}
