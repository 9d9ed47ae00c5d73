package io.cowherd.distribution.torrent.seeder;

import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which pieces an {@link InitialSeeder} offers to which peer: each piece to one peer only, as long
 * as there are pieces no connected peer has been offered or holds, so that every byte leaves the
 * seed once and the peers pass the pieces to each other.
 *
 * <p>A peer is offered (told "I have") a few pieces at a time and more as the previous ones leave;
 * a fast peer so takes more of the seed's upload than a slow one, and no peer waits for a fixed
 * share. Once every piece has been offered, the seed's upload would idle while the last pieces
 * spread: a peer is then offered what it lacks, rarest first (a piece whose receiver went away
 * before passing it on comes first), and a peer that has gained no piece for {@link #STALL_NANOS}
 * (its other sources stalled) is offered everything it lacks.
 *
 * <p>Racks: a peer is near (in the seed's rack, {@link io.cowherd.distribution.internal.Locality})
 * or far. New pieces go to far peers only while no near peer can take them (none is connected, or
 * every one has its pieces or has drawn none from the seed for {@link #STALL_NANOS}): the seed feeds
 * its own rack, whose hosts pass each piece on, and it crosses to another rack about once instead
 * of the seed sending half of them there first and its own rack then needing them back across the
 * link. With every peer equally near (one rack, or all in other subnets) nothing changes.
 *
 * <p>Order: new pieces go out in the order given first (a boot profile's pieces, so that hosts that
 * boot clones while the master arrives find their boot sets in the swarm soon; a peer cannot ask an
 * initial seed for a piece it has not been offered), then in index order.
 *
 * <p>Waves: only connected peers count. A seed that outlives its first fetches serves the next
 * hosts (a fleet that grows, a second batch) as it served the first: once those peers have left,
 * their pieces are new again, offered once each and in the order given. Counting every piece ever
 * offered instead left a second wave with the end-of-transfer rule below for everything: every
 * peer offered the same pieces in index order (a boot profile's first no more), most of them sent
 * several times (eight hosts streaming a Debian disk read their boot sets in 30.8 s instead of
 * 24.6 s in the wave before).
 *
 * <p>Peers are keys of any type (the seeder uses its connections). Thread-safe.
 */
final class PieceAssignment {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PieceAssignment.class);
    /** A peer that gained no piece for this long, with every piece offered once, is offered all it lacks. */
    static final long STALL_NANOS = 2_000_000_000L;

    private final int pieces;
    private final Map<Object, Peer> peers = new HashMap<>();
    /** Pieces to offer before the others, in this order. */
    private final int[] first;

    private static final class Peer {
        /** What the peer announced (bitfield, HAVE). */
        final BitSet has = new BitSet();
        /** What the seed announced to the peer: the pieces it may request. */
        final BitSet offered = new BitSet();
        /** Offered and not yet sent in full, nor held. */
        final BitSet pending = new BitSet();
        /** Sent in full, not yet announced by the peer. */
        final BitSet unconfirmed = new BitSet();
        /** In the seed's rack. */
        final boolean near;
        long lastGain;
        /** When it connected or last received a piece in full from the seed. */
        long lastDrawn;
        boolean open;

        Peer(boolean near, long now) {
            this.near = near;
            lastGain = now;
            lastDrawn = now;
        }

        /** Adds to {@code b} what it holds, or is being sent by the seed, or was sent and has not announced yet. */
        void addHeldOrComing(BitSet b) {
            b.or(has);
            b.or(pending);
            b.or(unconfirmed);
        }
    }

    PieceAssignment(int pieces) {
        this(pieces, List.of());
    }

    /** New pieces in the order of {@code first} (pieces of the torrent), then the rest in index order. */
    PieceAssignment(int pieces, List<Integer> first) {
        this.pieces = pieces;
        this.first = first.stream().mapToInt(Integer::intValue).filter(i -> i >= 0 && i < pieces).distinct().toArray();
    }

    /** A peer connected; as near as every other peer that connected so (one rack). */
    synchronized void connected(Object peer, long now) {
        connected(peer, true, now);
    }

    /** A peer connected, {@code near}: in the seed's rack. */
    synchronized void connected(Object peer, boolean near, long now) {
        peers.putIfAbsent(peer, new Peer(near, now));
    }

    synchronized void disconnected(Object peer) {
        peers.remove(peer);
    }

    /** The peer announced {@code piece} (a HAVE message). */
    synchronized void has(Object peer, int piece, long now) {
        Peer p = peers.get(peer);
        if (p == null || piece < 0 || piece >= pieces || p.has.get(piece)) {
            return;
        }
        p.has.set(piece);
        p.pending.clear(piece);
        p.unconfirmed.clear(piece);
        p.lastGain = now;
    }

    /** The peer announced these pieces (a bitfield message). */
    synchronized void hasAll(Object peer, BitSet bits, long now) {
        for (int i = bits.nextSetBit(0); i >= 0 && i < pieces; i = bits.nextSetBit(i + 1)) {
            has(peer, i, now);
        }
    }

    /** Every byte of {@code piece} has been sent to the peer, at {@code now}. */
    synchronized void sent(Object peer, int piece, long now) {
        Peer p = peers.get(peer);
        if (p != null) {
            p.lastDrawn = now;
        }
        if (p != null && p.pending.get(piece)) {
            p.pending.clear(piece);
            p.unconfirmed.set(piece);
        }
    }

    /** Whether the peer may request {@code piece} (it was offered to it). */
    synchronized boolean mayRequest(Object peer, int piece) {
        Peer p = peers.get(peer);
        return p != null && piece >= 0 && piece < pieces && p.offered.get(piece);
    }

    /** Pieces offered to the peer that it has not received in full yet. */
    synchronized int pending(Object peer) {
        Peer p = peers.get(peer);
        return p == null ? 0 : p.pending.cardinality();
    }

    /** Whether every piece is held by a connected peer or has been offered to one. */
    synchronized boolean everyPieceInSwarm() {
        return inSwarm().cardinality() == pieces;
    }

    /**
     * Picks new pieces to offer the peer so that it has {@code target} pending, and records them as
     * offered; the caller announces them (HAVE). Empty when there is nothing to offer now.
     */
    synchronized BitSet offer(Object peer, int target, long now) {
        BitSet out = new BitSet();
        Peer p = peers.get(peer);
        if (p == null || p.open) {
            return out;
        }
        int need = target - p.pending.cardinality();
        // fresh pieces first, in order: each leaves the seed once; to a far peer only when no near one takes them
        boolean fresh = p.near || !nearPeerTakes(now);
        BitSet swarm = inSwarm();
        for (int k = 0; fresh && need > 0 && k < first.length; k++) {
            int i = first[k];
            if (!swarm.get(i)) {
                take(p, i, out);
                swarm.set(i);
                need--;
            }
        }
        for (int i = swarm.nextClearBit(0); fresh && need > 0 && i < pieces; i = swarm.nextClearBit(i + 1)) {
            take(p, i, out);
            swarm.set(i);
            need--;
        }
        if (swarm.cardinality() == pieces) {
            BitSet lacking = new BitSet();
            lacking.set(0, pieces);
            lacking.andNot(p.has);
            lacking.andNot(p.offered);
            if (now - p.lastGain > STALL_NANOS && p.has.cardinality() < pieces) {
                // its other sources stalled: let it take whatever it lacks from here
                for (int i = lacking.nextSetBit(0); i >= 0; i = lacking.nextSetBit(i + 1)) {
                    take(p, i, out);
                }
                p.open = true;
                LOG.debug("a peer gained no piece for {} ms: offering it all {} pieces it lacks", (now - p.lastGain) / 1_000_000,
                        out.cardinality());
                return out;
            }
            if (need > 0) {
                // the seed's upload is free now: help the last pieces spread, rarest first (a piece
                // no one holds or receives first: its receiver went away before passing it on)
                int[] holders = holders(p);
                lacking.stream().boxed().sorted(java.util.Comparator.comparingInt(i -> holders[i])).limit(need)
                        .forEach(i -> take(p, i, out));
            }
        }
        return out;
    }

    /**
     * Whether a near peer can take new pieces: it lacks some (a new piece is one nobody holds) and
     * has drawn a piece from the seed within {@link #STALL_NANOS} or connected within it (one
     * that stopped asking must not keep the others' pieces from them).
     */
    private boolean nearPeerTakes(long now) {
        for (Peer q : peers.values()) {
            if (q.near && q.has.cardinality() < pieces && now - q.lastDrawn <= STALL_NANOS) {
                return true;
            }
        }
        return false;
    }

    private void take(Peer p, int piece, BitSet out) {
        p.offered.set(piece);
        p.pending.set(piece);
        out.set(piece);
    }

    /** Pieces a connected peer holds or is receiving from the seed: the swarm's. */
    private BitSet inSwarm() {
        BitSet b = new BitSet(pieces);
        for (Peer q : peers.values()) {
            q.addHeldOrComing(b); // no copy per peer: this runs at each piece offered
        }
        return b;
    }

    /** For each piece, how many other connected peers hold it or are receiving it from the seed. */
    private int[] holders(Peer except) {
        int[] n = new int[pieces];
        for (Peer q : peers.values()) {
            if (q != except) {
                BitSet b = new BitSet(pieces);
                q.addHeldOrComing(b);
                b.stream().filter(i -> i < pieces).forEach(i -> n[i]++);
            }
        }
        return n;
    }

}
