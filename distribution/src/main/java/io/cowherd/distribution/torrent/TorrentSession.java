package io.cowherd.distribution.torrent;

import java.time.Duration;

/** A torrent being seeded or fetched. Closing it stops sharing and releases its port and files. */
public interface TorrentSession extends AutoCloseable {

    /** The torrent. */
    Metainfo metainfo();

    /** The session's progress now. */
    Progress progress();

    /** The address peers reach this session at. */
    java.net.InetSocketAddress listenAddress();

    /**
     * Waits until every piece is held and verified and the files are in their final place.
     *
     * @param timeout how long to wait in all
     * @throws NoPeerException if no peer had the data for the session's no-peer timeout, or the
     *     session stopped or failed
     * @throws java.util.concurrent.TimeoutException if {@code timeout} passed first
     */
    void awaitCompletion(Duration timeout) throws java.util.concurrent.TimeoutException, InterruptedException;

    /**
     * Whether piece {@code piece} is held, verified and written, so that a reader of the files
     * finds it there.
     *
     * @throws io.cowherd.UnsupportedFeatureException unless the engine declares {@link EngineFeature#STREAMING}
     */
    default boolean havePiece(int piece) {
        throw notStreaming();
    }

    /**
     * Asks for {@code pieces} before every other piece, the first of them first: a reader is
     * waiting for them. Those not asked for before also go ahead of the pieces asked for earlier
     * and not held yet (the newest request is a reader waiting now; older ones are under way, or a
     * boot profile's prefetch). Pieces already held are ignored; the rest of the torrent keeps
     * coming in the swarm's own order.
     *
     * @throws io.cowherd.UnsupportedFeatureException unless the engine declares {@link EngineFeature#STREAMING}
     */
    default void fetchFirst(java.util.List<Integer> pieces) {
        throw notStreaming();
    }

    /**
     * Asks for {@code pieces}, which readers are expected to read in that order (a boot profile's),
     * before the swarm's own order, behind the pieces readers wait for now. An engine may take only
     * its share of them from the seed when other fetches of the same torrent want them too, and
     * the rest from those fetches, and may hold back every other piece until it holds these (the
     * libtorrent engine does both); by default it asks for all of them ({@link #fetchFirst}).
     *
     * @throws io.cowherd.UnsupportedFeatureException unless the engine declares {@link EngineFeature#STREAMING}
     */
    default void prefetch(java.util.List<Integer> pieces) {
        fetchFirst(pieces);
    }

    /**
     * Waits until {@link #havePiece havePiece(piece)}, at most {@code timeout}.
     *
     * @return whether the piece is held now
     * @throws io.cowherd.UnsupportedFeatureException unless the engine declares {@link EngineFeature#STREAMING}
     */
    default boolean awaitPiece(int piece, Duration timeout) throws InterruptedException {
        throw notStreaming();
    }

    private static io.cowherd.UnsupportedFeatureException notStreaming() {
        java.util.List<String> can = TorrentEngines.withFeature(EngineFeature.STREAMING);
        return new io.cowherd.UnsupportedFeatureException("this engine's sessions cannot serve reads of a fetch in progress ("
                + EngineFeature.STREAMING + "); engines that can: " + (can.isEmpty() ? "none" : String.join(", ", can)));
    }

    /** Stops sharing; the data stays. */
    @Override
    void close();
}
