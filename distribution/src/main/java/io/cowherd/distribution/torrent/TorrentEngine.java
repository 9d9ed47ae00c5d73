package io.cowherd.distribution.torrent;

import java.nio.file.Path;
import java.util.Set;

/**
 * A BitTorrent engine: seeds and fetches torrents. cowherd's own interface, so the engine
 * underneath can change without touching callers; {@link TorrentEngines#named} finds one by name.
 * Every engine seeds and fetches {@code .torrent} files through HTTP trackers; what else it can do it
 * declares in {@link #features()}, and it refuses the rest. The tracker is engine-neutral
 * ({@link io.cowherd.distribution.torrent.tracker.EmbeddedTracker}).
 */
public interface TorrentEngine {

    /** The engine's name, as {@link TorrentEngines#named} takes it. */
    String name();

    /** What this engine can do beyond the basics; the shared engine contract kit checks both sides. */
    Set<EngineFeature> features();

    /**
     * Shares the data of {@code metainfo}, which lies complete under {@code parent} (the
     * directory that holds the torrent's file or top directory). The data is trusted as it is (it
     * was hashed when the metainfo was made); nothing is re-hashed.
     *
     * @throws io.cowherd.UnsupportedFeatureException if {@code options} ask for a feature this engine lacks
     */
    TorrentSession seed(Metainfo metainfo, Path parent, SessionOptions options);

    /**
     * Fetches {@code metainfo} into {@code parent}. Pieces already on disk (from an earlier,
     * interrupted fetch) are verified and kept; a target that does not exist yet is not hashed at
     * all. Every piece received is verified against its hash; peers that send bad pieces are
     * dropped.
     *
     * @throws io.cowherd.UnsupportedFeatureException if {@code options} ask for a feature this engine lacks
     */
    TorrentSession fetch(Metainfo metainfo, Path parent, SessionOptions options);

    /**
     * Fetches the torrent a magnet link names into {@code parent}: its metadata (the info
     * dictionary) from peers first, checked against the info hash and then as strictly as a
     * {@code .torrent} file ({@link Metainfo#parse}), then its pieces as {@link #fetch(Metainfo, Path,
     * SessionOptions)} does. The session's {@link TorrentSession#metainfo()} is null until the
     * metadata has arrived.
     *
     * @throws io.cowherd.UnsupportedFeatureException if this engine lacks {@link EngineFeature#MAGNET_LINKS} (the default)
     */
    default TorrentSession fetch(MagnetLink magnet, Path parent, SessionOptions options) {
        TorrentEngines.require(this, EngineFeature.MAGNET_LINKS, "fetch a magnet link (no metadata exchange; fetch the .torrent file instead)");
        throw new IllegalStateException(name() + " declares " + EngineFeature.MAGNET_LINKS + " but does not implement it");
    }
}
