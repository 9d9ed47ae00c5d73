package io.cowherd.distribution.torrent;

import java.net.InetAddress;
import java.time.Duration;
import java.util.Objects;

/**
 * How a session runs.
 *
 * @param bindAddress the local address to listen on and to announce (a concrete address, since
 *     trackers hand it to other peers)
 * @param listener progress listener, or null
 * @param maxDownloadBytesPerSecond download limit, 0 for none (ttorrent applies it to each peer
 *     connection, not to the session as a whole)
 * @param maxUploadBytesPerSecond upload limit, 0 for none (per peer connection, likewise)
 * @param noPeerTimeout a fetch that gains no verified piece for this long fails with {@link NoPeerException}
 * @param seedAfter whether a fetch keeps seeding after it completes (until closed)
 */
public record SessionOptions(InetAddress bindAddress, ProgressListener listener, long maxDownloadBytesPerSecond,
        long maxUploadBytesPerSecond, Duration noPeerTimeout, boolean seedAfter) {

    /** Checks the fields. */
    public SessionOptions {
        Objects.requireNonNull(bindAddress, "bindAddress");
        Objects.requireNonNull(noPeerTimeout, "noPeerTimeout");
        if (bindAddress.isAnyLocalAddress()) {
            throw new IllegalArgumentException("bind to a concrete address, not " + bindAddress.getHostAddress()
                    + ": it is announced to the tracker and handed to other peers");
        }
        if (maxDownloadBytesPerSecond < 0 || maxUploadBytesPerSecond < 0) {
            throw new IllegalArgumentException("rate limits cannot be negative");
        }
    }

    /** Defaults: no limits, no listener, 60 s no-peer timeout, no seeding after the fetch. */
    public static SessionOptions on(InetAddress bindAddress) {
        return new SessionOptions(bindAddress, null, 0, 0, Duration.ofSeconds(60), false);
    }

    /** With a progress listener. */
    public SessionOptions withListener(ProgressListener l) {
        return new SessionOptions(bindAddress, l, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, noPeerTimeout, seedAfter);
    }

    /** With rate limits in bytes per second (0 for none). */
    public SessionOptions withRateLimits(long down, long up) {
        return new SessionOptions(bindAddress, listener, down, up, noPeerTimeout, seedAfter);
    }

    /** With a no-peer timeout. */
    public SessionOptions withNoPeerTimeout(Duration d) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, d, seedAfter);
    }

    /** Keep seeding after a fetch completes. */
    public SessionOptions withSeedAfter(boolean on) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, noPeerTimeout, on);
    }
}
