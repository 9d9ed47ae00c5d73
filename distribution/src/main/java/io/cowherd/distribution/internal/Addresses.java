package io.cowherd.distribution.internal;

import java.net.InetSocketAddress;

/** Addresses as the torrent packages write them. */
public final class Addresses {
    /** The first port a peer listens on (BitTorrent's customary 6881); the next ones follow when taken. */
    public static final int FIRST_PEER_PORT = 6881;

    private Addresses() {
    }

    /** The host part of a URL for {@code a}: its literal address, an IPv6 one in brackets. */
    public static String hostForUrl(InetSocketAddress a) {
        String h = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
        return h.contains(":") ? "[" + h + "]" : h;
    }
}
