/**
 * Torrents: {@link io.cowherd.distribution.torrent.Metainfo} (created with a piece size chosen from
 * the size, parsed strictly), {@link io.cowherd.distribution.torrent.MagnetLink}, and the
 * {@link io.cowherd.distribution.torrent.TorrentEngine} that seeds, fetches and runs a tracker,
 * with three engines: {@link io.cowherd.distribution.torrent.LibtorrentEngine} (the default:
 * libtorrent through libtorrent4j; magnet links, DHT, web seeds as an HTTP origin, host-wide rate
 * limits), {@link io.cowherd.distribution.torrent.TtorrentEngine} (pure Java, ttorrent 1.5) and
 * {@link io.cowherd.distribution.torrent.BtEngine} (bt 1.10). {@link
 * io.cowherd.distribution.torrent.InitialSeeder} is the first seed of a swarm that hands each peer
 * pieces no other peer has. Both the embedded tracker and the ttorrent engine run ttorrent's tracker.
 */
package io.cowherd.distribution.torrent;
