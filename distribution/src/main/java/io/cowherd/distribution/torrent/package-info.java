/**
 * Torrents: {@link io.cowherd.distribution.torrent.Metainfo} (created with a piece size chosen from
 * the size, parsed strictly), {@link io.cowherd.distribution.torrent.MagnetLink}, and the
 * {@link io.cowherd.distribution.torrent.TorrentEngine} that seeds, fetches and runs a tracker. Two
 * engines: {@link io.cowherd.distribution.torrent.BtEngine} on bt 1.10 (magnet links, optional DHT,
 * session-wide rate limits, bad peers banned by address) and
 * {@link io.cowherd.distribution.torrent.TtorrentEngine} on ttorrent 1.5, with its initial re-hash
 * of empty targets and its end-game corruption routed around. Both run ttorrent's tracker.
 */
package io.cowherd.distribution.torrent;
