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

    /**
     * A counter of {@code total} bytes that tells this listener as bytes are added, from any
     * number of threads (piece hashing runs on all cores).
     */
    default Counter counter(long total) {
        return new Counter(this, total);
    }

    /** Adds up bytes done, from any thread, and passes the running sum on. */
    final class Counter {
        private final CopyProgress listener;
        private final long total;
        private long done;

        Counter(CopyProgress listener, long total) {
            this.listener = listener;
            this.total = total;
        }

        /** {@code bytes} more are done. */
        public synchronized void add(long bytes) { // one call at a time: the listener sees a growing sum
            done += bytes;
            listener.advanced(Math.min(done, total), total);
        }
    }
}
