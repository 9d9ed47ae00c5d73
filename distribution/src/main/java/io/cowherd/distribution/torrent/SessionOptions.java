package io.cowherd.distribution.torrent;

import java.net.InetAddress;
import java.net.InetSocketAddress;
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
 * @param maxDownloadBytesPerSecond download limit, 0 for none: of the session as a whole
 *     ({@link EngineFeature#SESSION_RATE_LIMITS}), or of each peer connection if {@code perPeerRateLimits}
 * @param maxUploadBytesPerSecond upload limit, 0 for none (likewise)
 * @param perPeerRateLimits whether the limits apply to each peer connection ({@link EngineFeature#PEER_RATE_LIMITS})
 *     instead of the session
 * @param noPeerTimeout a fetch that gains no verified piece for this long fails with {@link NoPeerException}
 * @param seedAfter whether a fetch keeps seeding after it completes (until closed)
 * @param origins HTTP origins of the data (BEP 19 web seeds: a URL of the file, or of the directory
 *     that holds the torrent's file or top directory when it ends in {@code /}) that a fetch falls
 *     back to when the swarm stalls ({@link EngineFeature#HTTP_ORIGIN}); empty for none
 * @param originAfter how long a fetch goes without a new verified piece before it adds the origins
 * @param dhtBootstrapNodes DHT nodes to join through ({@link EngineFeature#DHT}; another session's
 *     {@link TorrentSession#listenAddress()} is one: the DHT listens on the same address and port over
 *     UDP), empty for a first node that others join; null for no DHT
 * @param tuning how the engine moves bytes ({@link EngineTuning#DEFAULT}: the measured best)
 */
public record SessionOptions(InetAddress bindAddress, ProgressListener listener, long maxDownloadBytesPerSecond,
        long maxUploadBytesPerSecond, boolean perPeerRateLimits, Duration noPeerTimeout, boolean seedAfter, List<URI> origins, Duration originAfter,
        List<InetSocketAddress> dhtBootstrapNodes, EngineTuning tuning) {

    /** Checks the fields. */
    public SessionOptions {
        Objects.requireNonNull(bindAddress, "bindAddress");
        Objects.requireNonNull(noPeerTimeout, "noPeerTimeout");
        Objects.requireNonNull(originAfter, "originAfter");
        Objects.requireNonNull(tuning, "tuning");
        origins = List.copyOf(origins);
        dhtBootstrapNodes = dhtBootstrapNodes == null ? null : List.copyOf(dhtBootstrapNodes);
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

    /** Defaults: no limits, no listener, 60 s no-peer timeout, no seeding after the fetch, no origin, no DHT, the measured best tuning. */
    public static SessionOptions on(InetAddress bindAddress) {
        return new SessionOptions(bindAddress, null, 0, 0, false, Duration.ofSeconds(60), false, List.of(), Duration.ofSeconds(10),
                null, EngineTuning.DEFAULT);
    }

    /** With a progress listener. */
    public SessionOptions withListener(ProgressListener l) {
        return new SessionOptions(bindAddress, l, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, perPeerRateLimits, noPeerTimeout, seedAfter,
                origins, originAfter, dhtBootstrapNodes, tuning);
    }

    /** With rate limits in bytes per second for the whole session (0 for none; {@link EngineFeature#SESSION_RATE_LIMITS}). */
    public SessionOptions withRateLimits(long down, long up) {
        return new SessionOptions(bindAddress, listener, down, up, false, noPeerTimeout, seedAfter, origins, originAfter,
                dhtBootstrapNodes, tuning);
    }

    /** With rate limits in bytes per second for each peer connection (0 for none; {@link EngineFeature#PEER_RATE_LIMITS}). */
    public SessionOptions withPeerRateLimits(long down, long up) {
        return new SessionOptions(bindAddress, listener, down, up, true, noPeerTimeout, seedAfter, origins, originAfter,
                dhtBootstrapNodes, tuning);
    }

    /** With a no-peer timeout. */
    public SessionOptions withNoPeerTimeout(Duration d) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, perPeerRateLimits, d, seedAfter,
                origins, originAfter, dhtBootstrapNodes, tuning);
    }

    /** Keep seeding after a fetch completes. */
    public SessionOptions withSeedAfter(boolean on) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, perPeerRateLimits, noPeerTimeout, on,
                origins, originAfter, dhtBootstrapNodes, tuning);
    }

    /**
     * With HTTP origins that a fetch adds as web seeds once it has gone {@code after} without a new
     * verified piece (the swarm stalled, or no peer has the data); {@link Duration#ZERO} adds them at once.
     */
    public SessionOptions withOrigins(List<URI> urls, Duration after) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, perPeerRateLimits, noPeerTimeout,
                seedAfter, urls, after, dhtBootstrapNodes, tuning);
    }

    /** Joining the DHT through {@code bootstrapNodes} (empty: a first node others join), or null for no DHT. */
    public SessionOptions withDht(List<InetSocketAddress> bootstrapNodes) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, perPeerRateLimits, noPeerTimeout,
                seedAfter, origins, originAfter, bootstrapNodes, tuning);
    }

    /** With engine tuning other than the measured best. */
    public SessionOptions withTuning(EngineTuning t) {
        return new SessionOptions(bindAddress, listener, maxDownloadBytesPerSecond, maxUploadBytesPerSecond, perPeerRateLimits, noPeerTimeout,
                seedAfter, origins, originAfter, dhtBootstrapNodes, t);
    }
}
