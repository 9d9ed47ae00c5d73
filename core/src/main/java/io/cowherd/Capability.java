package io.cowherd;

/**
 * What a backend can do. Each backend declares its set once ({@link CowBackend#capabilities()});
 * the contract test kit checks that every declared capability works and every other one fails
 * with {@link UnsupportedCapabilityException}. Capabilities arrive together with the API that
 * exercises them (flatten, commit, resize and activate come with their issues).
 */
public enum Capability {
    /** Create copy-on-write clones of a master. */
    CLONE,
    /** Import a master from an image file (raw or another readable format). */
    IMPORT,
    /** Read the guest-visible bytes of a volume through {@link VirtualDisk}. */
    READ,
    /** Write the guest-visible bytes of a clone through {@link VirtualDisk}. */
    WRITE
}
