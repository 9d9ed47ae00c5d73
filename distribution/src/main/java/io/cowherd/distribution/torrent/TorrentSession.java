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

    /** Stops sharing; the data stays. */
    @Override
    void close();
}
