/**
 * Torrents: {@link io.cowherd.distribution.torrent.Metainfo} (created with a piece size chosen from
 * the size, parsed strictly), {@link io.cowherd.distribution.torrent.MagnetLink}, and the
 * {@link io.cowherd.distribution.torrent.TorrentEngine} that seeds, fetches and runs a tracker,
 * with two engines: {@link io.cowherd.distribution.torrent.LibtorrentEngine} (the default:
 * libtorrent through libtorrent4j; magnet links, DHT, web seeds as an HTTP origin, host-wide rate
 * limits) and {@link io.cowherd.distribution.torrent.TtorrentEngine} (pure Java, ttorrent 1.5).
 * {@link io.cowherd.distribution.torrent.InitialSeeder} is the first seed of a swarm that hands
 * each peer pieces no other peer has. The embedded tracker is ttorrent's.
 */
package io.cowherd.distribution.torrent;
