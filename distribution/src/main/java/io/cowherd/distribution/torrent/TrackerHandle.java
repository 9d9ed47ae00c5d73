package io.cowherd.distribution.torrent;

import java.net.URI;

/** A running tracker. */
public interface TrackerHandle extends AutoCloseable {

    /** Its announce URL ({@code http://HOST:PORT/announce}). */
    URI announceUrl();

    /** Lets the tracker track {@code metainfo} (trackers here track only torrents they were told of). */
    void track(Metainfo metainfo);

    /** Stops the tracker. */
    @Override
    void close();
}
