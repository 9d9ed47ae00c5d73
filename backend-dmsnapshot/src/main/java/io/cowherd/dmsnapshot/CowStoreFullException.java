package io.cowherd.dmsnapshot;

import io.cowherd.OutOfSpaceException;

/**
 * A clone's copy-on-write store filled up (or failed) and the kernel invalidated the snapshot:
 * its writes are lost for good. The message names the clone and its store.
 */
public class CowStoreFullException extends OutOfSpaceException {
    private static final long serialVersionUID = 1L;
    private final String clone;

    /** The clone {@code clone} overflowed, as {@code message} explains. */
    public CowStoreFullException(String clone, String message) {
        super(message, null);
        this.clone = clone;
    }

    /** The name of the clone that overflowed. */
    public String cloneName() {
        return clone;
    }
}
