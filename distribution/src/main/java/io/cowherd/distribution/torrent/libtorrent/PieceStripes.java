package io.cowherd.distribution.torrent.libtorrent;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;

/**
 * Which pieces a fetch asks for first, so that fetches starting together take different pieces
 * from the seed.
 *
 * <p>Why: with plain rarest-first, every fetch asks the seed for the pieces nobody has yet, but
 * it cannot see what the others have asked for and not yet received. Measured on the namespace
 * swarm (one seed, eight fetches, 100 Mbit/s each), a third of the seed's upload went to pieces
 * another fetch was already receiving or had received (requests wait in the seed's queue for a
 * second or two while the piece spreads), and the seed's upload is the bound of the whole swarm.
 *
 * <p>How: every fetch orders the fetches it is connected to, itself included (seeds left out),
 * by address, and takes its rank {@code r} among the {@code n} of them. Its stripe is the
 * {@code r}-th of {@code n} equal runs of pieces (runs, not every n-th piece: libtorrent asks a fast
 * peer for neighbouring pieces together). The session ranks the stripe above the other pieces only
 * among pieces equally rare, so a fetch asks the seed for its own stripe while the other fetches
 * serve it the rest, and when its stripe is done it is a rarest-first client like any other.
 * Fetches that see the same peers agree on disjoint stripes without talking to each other; fetches
 * that see different peers overlap somewhat, which costs only what rarest-first costs anyway.
 * Nothing here changes what is verified or written.
 */
final class PieceStripes {
    private final int pieces;
    private final InetAddress self;
    private volatile int count;
    private volatile int rank = -1;

    PieceStripes(int pieces, InetAddress self) {
        this.pieces = pieces;
        this.self = self;
    }

    /**
     * Recomputes the stripe from the addresses of the fetches now connected (seeds left out).
     *
     * @return the stripe as one flag per piece when it changed, else {@code null}; all {@code false}
     *     (no stripe) while this fetch is alone
     */
    boolean[] update(Collection<InetAddress> fetchPeers) {
        TreeSet<InetAddress> fetches = new TreeSet<>(Comparator.comparing(InetAddress::getAddress, Arrays::compareUnsigned));
        fetches.addAll(fetchPeers);
        fetches.add(self);
        int n = fetches.size();
        int r = fetches.headSet(self).size();
        if (n == count && r == rank) {
            return null;
        }
        count = n;
        rank = r;
        boolean[] stripe = new boolean[pieces];
        if (n > 1) {
            long from = (long) pieces * r / n;
            long to = (long) pieces * (r + 1) / n;
            for (long i = from; i < to; i++) {
                stripe[(int) i] = true;
            }
        }
        return stripe;
    }

    /**
     * This fetch's share of {@code ordered}, pieces that fetches starting together all want first
     * in that order (a boot profile's): every {@code n}-th of them from its rank {@code r}, in their
     * order; all of them while it is alone. Interleaved, not in runs: together the fetches then take
     * the pieces from the seed in the profile's order, each once, and a fetch finds the next piece
     * it reads at the peer whose share it is.
     */
    List<Integer> share(List<Integer> ordered) {
        int n = Math.max(1, count);
        int r = Math.max(0, rank);
        List<Integer> mine = new ArrayList<>();
        for (int i = r; i < ordered.size(); i += n) {
            mine.add(ordered.get(i));
        }
        return mine;
    }

    /** Fetches sharing the pieces, this one included, as of the last update. */
    int count() {
        return count;
    }

    /** This fetch's rank among them. */
    int rank() {
        return rank;
    }
}
