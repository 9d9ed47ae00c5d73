package io.cowherd.distribution.torrent;

import com.turn.ttorrent.common.Peer;
import com.turn.ttorrent.tracker.TrackedPeer;
import com.turn.ttorrent.tracker.TrackedTorrent;
import java.io.IOException;
import java.net.InetAddress;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/**
 * A torrent on the embedded tracker that answers each announce with the peers nearest to the one
 * asking, as Kraken's and Dragonfly's trackers do: nearest is the longest common address prefix
 * (the same /24 before the same /16 before anyone), a proxy for the same rack or site, so most of
 * a host's traffic stays on its own switch. Equally near peers come in random order, so load
 * spreads; at most {@value #ANSWER_PEERS} peers per answer (ttorrent's number), the requester
 * itself never, and only peers that announced recently.
 */
final class LocalityTrackedTorrent extends TrackedTorrent {
    static final int ANSWER_PEERS = 30;

    LocalityTrackedTorrent(byte[] torrent) throws IOException, NoSuchAlgorithmException {
        super(torrent);
    }

    @Override
    public List<Peer> getSomePeers(TrackedPeer requester) {
        List<TrackedPeer> candidates = new ArrayList<>();
        for (TrackedPeer p : getPeers().values()) {
            if (p.isFresh() && !p.looksLike(requester)) {
                candidates.add(p);
            }
        }
        Collections.shuffle(candidates);
        byte[] from = rawIp(requester);
        candidates.sort(Comparator.comparingInt((TrackedPeer p) -> commonPrefixBits(from, rawIp(p))).reversed());
        return new ArrayList<>(candidates.subList(0, Math.min(ANSWER_PEERS, candidates.size())));
    }

    private static byte[] rawIp(Peer p) {
        byte[] raw = p.getRawIp();
        if (raw != null) {
            return raw;
        }
        InetAddress a = p.getAddress();
        return a == null ? new byte[0] : a.getAddress();
    }

    /** Leading bits two addresses share; 0 between IPv4 and IPv6. */
    static int commonPrefixBits(byte[] a, byte[] b) {
        if (a.length != b.length) {
            return 0;
        }
        int bits = 0;
        for (int i = 0; i < a.length; i++) {
            int x = (a[i] ^ b[i]) & 0xff;
            if (x != 0) {
                return bits + Integer.numberOfLeadingZeros(x) - 24;
            }
            bits += 8;
        }
        return bits;
    }
}
