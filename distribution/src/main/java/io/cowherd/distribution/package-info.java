/**
 * Shipping master images to many hosts: {@link io.cowherd.distribution.bundle bundles} (the unit
 * that travels: disk images, domain XML, NVRAM and a manifest with hashes, exportable as one tar
 * archive) and {@link io.cowherd.distribution.torrent torrents} (metainfo, seeding, fetching and
 * an embedded tracker behind the engine-neutral {@link io.cowherd.distribution.torrent.TorrentEngine}).
 */
package io.cowherd.distribution;
