package io.cowherd.distribution.torrent;

/**
 * What an engine may or may not do beyond seeding and fetching a {@code .torrent} through HTTP
 * trackers, which every engine does. An engine declares its features ({@link TorrentEngine#features()});
 * asked for one it lacks, it refuses with {@link io.cowherd.UnsupportedFeatureException} instead of
 * ignoring the request.
 *
 * <p>Initial seeding is not among them: {@link io.cowherd.distribution.torrent.seeder.InitialSeeder}
 * is cowherd's own seed, engine-neutral, and the fetches of every engine take part in its swarm.
 */
public enum EngineFeature {
    /** Fetching from a magnet link: the metadata from peers first (BEP 9). */
    MAGNET_LINKS,
    /** Finding peers without a tracker: the mainline DHT (BEP 5), joined through the given nodes only. */
    DHT,
    /** Falling back to HTTP origins (web seeds, BEP 19) when the swarm stalls ({@link SessionOptions#origins()}). */
    HTTP_ORIGIN,
    /** Rate limits on the session as a whole, as an operator means them ({@link SessionOptions#withRateLimits}). */
    SESSION_RATE_LIMITS,
    /** Rate limits on each peer connection ({@link SessionOptions#withPeerRateLimits}): a session with n peers may move n times the limit. */
    PEER_RATE_LIMITS,
    /**
     * Serving reads of a fetch in progress: {@link TorrentSession#havePiece}, {@link TorrentSession#fetchFirst}
     * and {@link TorrentSession#awaitPiece}, so that a reader (an NBD export of the master) gets the
     * pieces it waits for before the swarm's own order (libtorrent's piece deadlines).
     */
    STREAMING
}
