/**
 * Torrents: {@link io.cowherd.distribution.torrent.Metainfo} (created with a piece size chosen from
 * the size, parsed strictly), and the {@link io.cowherd.distribution.torrent.TorrentEngine} that
 * seeds, fetches and runs a tracker. {@link io.cowherd.distribution.torrent.TtorrentEngine} is the
 * engine on ttorrent 1.5, with its initial re-hash of empty targets and its end-game corruption
 * routed around.
 */
package io.cowherd.distribution.torrent;
