package io.cowherd.distribution.torrent.seeder;

/**
 * A token bucket for one direction of a whole session: {@link #delayNanos} reserves bytes and says
 * how long the caller must wait before moving them. A burst of up to a quarter second's worth (at
 * least 256 KiB) passes at once.
 */
final class RateLimiter {
    private final long bytesPerSecond;
    private final long burstNanos;
    private long nextFree = System.nanoTime();

    /** @param bytesPerSecond the rate; 0 for no limit */
    RateLimiter(long bytesPerSecond) {
        this.bytesPerSecond = bytesPerSecond;
        long burstBytes = Math.max(256 << 10, bytesPerSecond / 4);
        this.burstNanos = bytesPerSecond == 0 ? 0 : burstBytes * 1_000_000_000L / bytesPerSecond;
    }

    boolean unlimited() {
        return bytesPerSecond == 0;
    }

    /** Reserves {@code bytes}; returns nanoseconds to wait before moving them (0: go now). */
    synchronized long delayNanos(long bytes) {
        if (bytesPerSecond == 0) {
            return 0;
        }
        long now = System.nanoTime();
        long start = Math.max(nextFree, now - burstNanos);
        nextFree = start + bytes * 1_000_000_000L / bytesPerSecond;
        return Math.max(0, nextFree - burstNanos - now);
    }
}
