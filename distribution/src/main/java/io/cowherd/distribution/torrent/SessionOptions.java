package io.cowherd.distribution.torrent;

import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
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
 * @param origins HTTP origins of the data (BEP 19 web seeds: a URL of the file, or of the directory
 *     that holds the torrent's file or top directory when it ends in {@code /}) that a fetch falls
 *     back to when the swarm stalls; empty for none (the libtorrent engine; the others refuse them)
 * @param originAfter how long a fetch goes without a new verified piece before it adds the origins
 */
public record SessionOptions(InetAddress bindAddress, ProgressListener listener, long maxDownloadBytesPerSecond,
        long maxUploadBytesPerSecond, Duration noPeerTimeout, boolean seedAfter, List<URI> origins, Duration originAfter) {

    /** Checks the fields. */
    public SessionOptions {
        Objects.requireNonNull(bindAddress, "bindAddress");
        Objects.requireNonNull(noPeerTimeout, "noPeerTimeout");
        Objects.requireNonNull(originAfter, "originAfter");
        origins = List.copyOf(origins);
        for (URI u : origins) {
            if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) {
                throw new IllegalArgumentException("an origin is an http(s) URL, not " + u);
            }
        }
        if (bindAddress.isAnyLocalAddress()) {
            throw new IllegalArgumentException("bind to a concrete address, not " + bindAddress.getHostAddress()
                    + ": it is announced to the tracker and handed to other peers");
        }
        if (maxDownloadBytesPerSecond < 0 || maxUploadBytesPerSecond < 0) {
            throw new IllegalArgumentException("rate limits cannot be negative");
        }
    }

    /** Defaults: no limits, no listener, 60 s no-peer timeout, no seeding after the fetch, no origin. */
    public static SessionOptions on(InetAddress bindAddress) {
        return new SessionOptions(bindAddress, null, 0, 0, Duration.ofSeconds(60), false, List.of(), Duration.ofSeconds(10));
    }

    /** With a progress listener. */
    public SessionOptions withListener(ProgressListener l) {
        return new SessionOptions(bindAddress, l, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, noPeerTimeout, seedAfter, origins, originAfter);
    }

    /** With rate limits in bytes per second (0 for none). */
    public SessionOptions withRateLimits(long down, long up) {
        return new SessionOptions(bindAddress, listener, down, up, noPeerTimeout, seedAfter, origins, originAfter);
    }

    /** With a no-peer timeout. */
    public SessionOptions withNoPeerTimeout(Duration d) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, d, seedAfter, origins, originAfter);
    }

    /** Keep seeding after a fetch completes. */
    public SessionOptions withSeedAfter(boolean on) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, noPeerTimeout, on, origins, originAfter);
    }

    /**
     * With HTTP origins that a fetch adds as web seeds once it has gone {@code after} without a new
     * verified piece (the swarm stalled, or no peer has the data); {@link Duration#ZERO} adds them at once.
     */
    public SessionOptions withOrigins(List<URI> urls, Duration after) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, noPeerTimeout,
                seedAfter, urls, after);
    }

    /** For an engine without web seeds: refuses origins rather than ignoring them. */
    void refuseOrigins(String engineName) {
        if (!origins.isEmpty()) {
            throw new io.cowherd.UnsupportedFeatureException("the " + engineName + " engine cannot fall back to an HTTP "
                    + "origin; use the libtorrent engine (LibtorrentEngine)");
        }
    }
}
