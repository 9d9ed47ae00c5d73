/**
 * Torrents, engine-neutral: {@link io.cowherd.distribution.torrent.Metainfo} (created with a piece
 * size chosen from the size, parsed strictly), {@link io.cowherd.distribution.torrent.MagnetLink},
 * and the {@link io.cowherd.distribution.torrent.TorrentEngine} that seeds and fetches, found by
 * name through {@link io.cowherd.distribution.torrent.TorrentEngines} ({@link java.util.ServiceLoader}),
 * with the {@link io.cowherd.distribution.torrent.EngineFeature features} it declares and the
 * {@link io.cowherd.distribution.torrent.SessionOptions} a session runs with.
 *
 * <p>The rest lives in packages of its own, none reaching into another: the engines
 * ({@code .libtorrent}, the default, and {@code .ttorrent}, pure Java; each an optional Maven
 * dependency), the initial seeder ({@code .seeder}), the embedded tracker ({@code .tracker}) and
 * the HTTP origin ({@code .origin}).
 */
package io.cowherd.distribution.torrent;
