package io.cowherd.distribution.torrent.seeder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The initial seed's policy: every piece to one peer first, more to whoever takes them faster, lost pieces again. */
class PieceAssignmentTest {
    private static final long T0 = 1_000_000_000L;

    /** Marks every pending piece of {@code peer} sent and confirmed (the peer announced it). */
    private static void receiveAll(PieceAssignment a, Object peer, BitSet offered, long now) {
        for (int i = offered.nextSetBit(0); i >= 0; i = offered.nextSetBit(i + 1)) {
            a.sent(peer, i, now);
            a.has(peer, i, now);
        }
    }

    @Test
    void everyPieceGoesToOnePeerAndTheFasterPeerTakesMore() {
        PieceAssignment a = new PieceAssignment(40);
        Object fast = "fast";
        Object slow = "slow";
        a.connected(fast, T0);
        a.connected(slow, T0);
        BitSet seen = new BitSet();
        BitSet slowGot = a.offer(slow, 2, T0); // the slow peer never finishes these
        seen.or(slowGot);
        int fastGot = 0;
        for (int round = 0; round < 100 && !a.everyPieceInSwarm(); round++) {
            BitSet o = a.offer(fast, 2, T0);
            assertFalse(o.intersects(seen), "a piece offered twice while others were never offered: " + o);
            seen.or(o);
            fastGot += o.cardinality();
            receiveAll(a, fast, o, T0);
        }
        assertTrue(a.everyPieceInSwarm());
        assertEquals(40, seen.cardinality());
        assertEquals(38, fastGot, "the peer that took its pieces got every piece but the slow one's two");
        assertEquals(2, a.pending(slow));
        for (int i = 0; i < 40; i++) {
            assertEquals(slowGot.get(i), a.mayRequest(slow, i), "the slow peer may ask for piece " + i + " only if offered");
        }
    }

    @Test
    void piecesGivenFirstGoOutFirstInTheirOrderThenTheRestInIndexOrder() {
        PieceAssignment a = new PieceAssignment(12, List.of(9, 3, 99, 3, 7, -1)); // a boot profile's pieces; 99, -1 ignored
        a.connected("p", T0);
        a.connected("q", T0);
        a.hasAll("q", BitSet.valueOf(new long[] {1L << 7}), T0); // q holds 7: nobody is offered it
        List<Integer> order = new java.util.ArrayList<>();
        for (int round = 0; round < 20 && !a.everyPieceInSwarm(); round++) {
            BitSet o = a.offer(round % 2 == 0 ? "p" : "q", 1, T0);
            o.stream().forEach(order::add);
            receiveAll(a, round % 2 == 0 ? "p" : "q", o, T0);
        }
        assertEquals(List.of(9, 3, 0, 1, 2, 4, 5, 6, 8, 10, 11), order);
    }

    @Test
    void piecesAPeerHoldsAreNotSentToItNorSentAgainToOthers() {
        PieceAssignment a = new PieceAssignment(4); // e.g. a seed restarted mid-transfer
        a.connected("had", T0);
        a.connected("new", T0);
        BitSet held = new BitSet();
        held.set(0, 3);
        a.hasAll("had", held, T0);
        assertEquals(BitSet.valueOf(new long[] {0b1000}), a.offer("new", 1, T0), "only the piece no one holds");
        assertEquals(BitSet.valueOf(new long[] {0b1000}), a.offer("had", 1, T0), "and its missing piece to the other");
        assertFalse(a.mayRequest("had", 0), "never a piece it announced");
    }

    @Test
    void piecesWhoseReceiverLeftAreOfferedAgainFirst() {
        PieceAssignment a = new PieceAssignment(6);
        a.connected("gone", T0);
        a.connected("stays", T0);
        BitSet toGone = a.offer("gone", 3, T0);
        BitSet toStays = a.offer("stays", 3, T0);
        receiveAll(a, "stays", toStays, T0);
        assertTrue(a.everyPieceInSwarm());
        a.sent("gone", toGone.nextSetBit(0), T0); // sent, never announced: lost with its receiver too
        a.disconnected("gone");
        BitSet again = a.offer("stays", 3, T0);
        assertEquals(toGone, again, "the three pieces no connected peer holds");
    }

    /**
     * A seed that outlives its first fetches: the next wave of hosts is served as the first was,
     * each piece once, the given order first (with every piece ever offered counted, the second
     * wave got the end-of-transfer rule: both peers offered piece 0 first).
     */
    @Test
    void aSecondWaveGetsEachPieceOnceInTheGivenOrderAgain() {
        PieceAssignment a = new PieceAssignment(6, List.of(4, 1));
        for (String p : new String[] {"a", "b"}) {
            a.connected(p, T0);
        }
        for (int round = 0; round < 20 && !a.everyPieceInSwarm(); round++) {
            String p = round % 2 == 0 ? "a" : "b";
            receiveAll(a, p, a.offer(p, 1, T0), T0);
        }
        a.disconnected("a");
        a.disconnected("b");
        assertFalse(a.everyPieceInSwarm(), "no connected peer holds anything");
        a.connected("c", T0);
        a.connected("d", T0);
        List<Integer> order = new java.util.ArrayList<>();
        for (int round = 0; round < 6; round++) {
            String p = round % 2 == 0 ? "c" : "d";
            BitSet o = a.offer(p, 1, T0);
            o.stream().forEach(order::add);
            receiveAll(a, p, o, T0);
        }
        assertEquals(List.of(4, 1, 0, 2, 3, 5), order, "each piece once, the given ones first");
        assertTrue(a.everyPieceInSwarm());
    }

    @Test
    void oncePiecesAreAllOutTheRarestAreOfferedToHelpThemSpread() {
        PieceAssignment a = new PieceAssignment(4);
        for (String p : new String[] {"a", "b", "c"}) {
            a.connected(p, T0);
        }
        BitSet toA = a.offer("a", 2, T0); // pieces 0, 1
        BitSet toB = a.offer("b", 2, T0); // pieces 2, 3
        receiveAll(a, "a", toA, T0);
        receiveAll(a, "b", toB, T0);
        a.has("c", 0, T0); // c got 0 from a
        a.has("b", 1, T0); // b got 1 from a
        // c lacks 1 (held by a and b), 2 and 3 (held by b only): the rarest first
        assertEquals(BitSet.valueOf(new long[] {0b1100}), a.offer("c", 2, T0));
    }

    @Test
    void aPeerThatGainedNothingForTwoSecondsMayAskForEverythingItLacks() {
        PieceAssignment a = new PieceAssignment(8);
        a.connected("a", T0);
        a.connected("b", T0);
        BitSet toA = a.offer("a", 8, T0);
        receiveAll(a, "a", toA, T0);
        assertTrue(a.offer("b", 2, T0 + 1_000_000_000L).cardinality() <= 2, "not stalled yet: a few at a time");
        BitSet all = a.offer("b", 2, T0 + PieceAssignment.STALL_NANOS + 1);
        for (int i = 0; i < 8; i++) {
            assertTrue(a.mayRequest("b", i), "piece " + i + " after the stall");
        }
        assertFalse(all.isEmpty());
        assertFalse(a.mayRequest("b", 8), "no piece past the end");
        assertFalse(a.mayRequest("nobody", 0), "nothing for a peer that is not connected");
    }

    /**
     * Two racks: while the near peer draws pieces, the far one is offered no new piece, however
     * often it asks; each piece so leaves the seed into its own rack once. Once all are out, the far
     * peer gets what it lacks, rarest first, as any peer does then.
     */
    @Test
    void newPiecesGoToTheSeedsRackWhileItTakesThem() {
        PieceAssignment a = new PieceAssignment(40);
        a.connected("near", true, T0);
        a.connected("far", false, T0);
        long now = T0;
        BitSet toNear = new BitSet();
        for (int round = 0; round < 100 && !a.everyPieceInSwarm(); round++) {
            now += 100_000_000L; // a piece every 100 ms: the near peer keeps drawing
            assertTrue(a.offer("far", 4, now).isEmpty(), "a new piece offered to the far peer in round " + round);
            BitSet o = a.offer("near", 4, now);
            toNear.or(o);
            receiveAll(a, "near", o, now);
        }
        assertEquals(40, toNear.cardinality(), "every piece went to the seed's rack");
        assertEquals(4, a.offer("far", 4, now).cardinality(), "then the far peer gets what it lacks");
    }

    /** A far peer gets new pieces when no near peer takes them: none connected, or one that stopped drawing. */
    @Test
    void farPeersGetNewPiecesWhenNoNearPeerTakesThem() {
        PieceAssignment a = new PieceAssignment(40);
        a.connected("far", false, T0);
        BitSet toFar = a.offer("far", 2, T0);
        assertEquals(2, toFar.cardinality(), "no near peer: as before");
        a.connected("near", true, T0);
        BitSet toNear = a.offer("near", 2, T0);
        assertEquals(2, toNear.cardinality());
        receiveAll(a, "far", toFar, T0); // draws its two: it could take more
        assertTrue(a.offer("far", 4, T0 + PieceAssignment.STALL_NANOS).isEmpty(), "the near peer just connected");
        BitSet o = a.offer("far", 4, T0 + PieceAssignment.STALL_NANOS + 1);
        assertEquals(4, o.cardinality(), "the near peer drew nothing for the stall time: " + o);
        assertFalse(o.intersects(toNear), "still one peer per new piece");
        a.disconnected("near");
        assertEquals(2, a.offer("far", 6, T0 + PieceAssignment.STALL_NANOS + 2).cardinality(), "the near peer left");
    }

    /**
     * One rack: peers all near and peers all far (every one in another subnet than the seed) get
     * the very same offers as the peers of the other tests.
     */
    @Test
    void peersEquallyNearGetTheSameOffersAsBefore() {
        for (boolean near : new boolean[] {true, false}) {
            PieceAssignment a = new PieceAssignment(12);
            a.connected("a", near, T0);
            a.connected("b", near, T0);
            assertEquals(BitSet.valueOf(new long[] {0b11}), a.offer("a", 2, T0), "near " + near);
            assertEquals(BitSet.valueOf(new long[] {0b1100}), a.offer("b", 2, T0 + 5 * PieceAssignment.STALL_NANOS),
                    "near " + near + ", the other peer drawing nothing for long");
            receiveAll(a, "a", BitSet.valueOf(new long[] {0b11}), T0);
            assertEquals(BitSet.valueOf(new long[] {0b110000}), a.offer("a", 2, T0), "near " + near);
        }
    }
}
