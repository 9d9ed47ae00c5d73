/** The HTTP origin: a seed's data over HTTP with byte ranges, read-only, that fetches fall back to (web seeds, BEP 19). */
package io.cowherd.distribution.torrent.origin;
