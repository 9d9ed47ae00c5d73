/**
 * The libtorrent engine (libtorrent 2.0 through libtorrent4j), the default: every
 * {@link io.cowherd.distribution.torrent.EngineFeature}. Needs {@code org.libtorrent4j:libtorrent4j}
 * and {@code org.libtorrent4j:libtorrent4j-linux} on the class path.
 */
package io.cowherd.distribution.torrent.libtorrent;
