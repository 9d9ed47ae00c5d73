package io.cowherd;

/**
 * What a backend can do. Each backend declares its set once ({@link CowBackend#capabilities()});
 * the operations behind a capability it does not declare fail with
 * {@link UnsupportedCapabilityException}, and the contract test kit checks both sides for every
 * backend. Callers (the command line among them) decide on capabilities, never on a pool's class.
 */
public enum Capability {
    /** Create copy-on-write clones of a master. */
    CLONE,
    /** Import a master from an image file (raw or another readable format). */
    IMPORT,
    /** Read the guest-visible bytes of a volume through {@link VirtualDisk}. */
    READ,
    /** Write the guest-visible bytes of a clone through {@link VirtualDisk}. */
    WRITE,
    /**
     * Bring a pool's devices up from its record ({@link Pool#activate()}, after a reboot) and take
     * them down ({@link Pool#deactivate()}). Pools of plain files need neither.
     */
    ACTIVATE,
    /**
     * Report how full each piece of fixed-size copy-on-write storage is ({@link Pool#usage()}) and
     * warn or grow it before it overflows ({@link Pool#checkFill}, {@link Pool#watch}).
     */
    FILL,
    /** Turn a clone into a standalone, writable volume that no longer needs its master ({@link Pool#flatten}). */
    FLATTEN,
    /** Turn a clone into a new read-only master; its siblings keep theirs ({@link Pool#promote}). */
    PROMOTE,
    /** Write a master's last clone into the master; the clone is gone afterwards ({@link Pool#commit}). */
    COMMIT,
    /** Grow a volume's guest-visible size; a master with clones never changes ({@link Pool#resize}). */
    RESIZE,
    /**
     * Take a master that is still arriving: an empty stand-in in the pool backed by the NBD export
     * of the download ({@link Pool#addStreamingMaster}), cloned like any master, switched to the
     * local file once it is complete ({@link Pool#completeStream}).
     */
    STREAM
}
