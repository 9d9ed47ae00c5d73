/**
 * The ttorrent engine (ttorrent 1.5, pure Java): the fallback where libtorrent4j's native library
 * does not load; no optional features. Needs {@code com.turn:ttorrent-core} on the class path.
 */
package io.cowherd.distribution.torrent.ttorrent;
