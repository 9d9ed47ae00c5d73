package io.cowherd.distribution.torrent;

import java.net.InetSocketAddress;
import java.nio.file.Path;

/**
 * A BitTorrent engine: seeds and fetches torrents and runs a tracker. cowherd's own interface, so
 * the engine underneath can change without touching callers.
 */
public interface TorrentEngine {

    /** The engine's name, for logs and benchmarks. */
    String name();

    /**
     * Shares the data of {@code metainfo}, which lies complete under {@code parent} (the
     * directory that holds the torrent's file or top directory). The data is trusted as it is (it
     * was hashed when the metainfo was made); nothing is re-hashed.
     */
    TorrentSession seed(Metainfo metainfo, Path parent, SessionOptions options);

    /**
     * Fetches {@code metainfo} into {@code parent}. Pieces already on disk (from an earlier,
     * interrupted fetch) are verified and kept; a target that does not exist yet is not hashed at
     * all. Every piece received is verified against its hash; peers that send bad pieces are
     * dropped.
     */
    TorrentSession fetch(Metainfo metainfo, Path parent, SessionOptions options);

    /**
     * Fetches the torrent a magnet link names into {@code parent}: its metadata (the info
     * dictionary) from peers first, checked against the info hash and then as strictly as a
     * {@code .torrent} file ({@link Metainfo#parse}), then its pieces as {@link #fetch(Metainfo, Path,
     * SessionOptions)} does. The session's {@link TorrentSession#metainfo()} is null until the
     * metadata has arrived.
     *
     * @throws io.cowherd.UnsupportedFeatureException if this engine cannot (the default)
     */
    default TorrentSession fetch(MagnetLink magnet, Path parent, SessionOptions options) {
        throw new io.cowherd.UnsupportedFeatureException("the " + name() + " engine cannot fetch magnet links (no metadata "
                + "exchange); fetch the .torrent file instead, or use the libtorrent engine (LibtorrentEngine)");
    }

    /** Whether this engine finds peers without a tracker (DHT). */
    default boolean trackerless() {
        return false;
    }

    /** Starts a tracker at {@code address}; its announce URL is {@code http://HOST:PORT/announce}. */
    TrackerHandle startTracker(InetSocketAddress address);
}
