package io.cowherd;

/**
 * Told how far a long copy has come (an import, a convert, a flatten): bytes of the source
 * passed so far, holes included, of its whole size. Called on the copying thread, often; keep it
 * cheap.
 */
@FunctionalInterface
public interface CopyProgress {
    /** Nobody is listening. */
    CopyProgress NONE = (done, total) -> { };

    /** {@code done} of {@code total} bytes of the source are copied. */
    void advanced(long done, long total);
}
