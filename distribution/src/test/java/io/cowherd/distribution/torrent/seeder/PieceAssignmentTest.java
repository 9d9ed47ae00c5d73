package io.cowherd.distribution.torrent.seeder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import org.junit.jupiter.api.Test;

/** The initial seed's policy: every piece to one peer first, more to whoever takes them faster, lost pieces again. */
class PieceAssignmentTest {
    private static final long T0 = 1_000_000_000L;

    /** Marks every pending piece of {@code peer} sent and confirmed (the peer announced it). */
    private static void receiveAll(PieceAssignment a, Object peer, BitSet offered, long now) {
        for (int i = offered.nextSetBit(0); i >= 0; i = offered.nextSetBit(i + 1)) {
            a.sent(peer, i);
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
        for (int round = 0; round < 100 && !a.allOfferedOnce(); round++) {
            BitSet o = a.offer(fast, 2, T0);
            assertFalse(o.intersects(seen), "a piece offered twice while others were never offered: " + o);
            seen.or(o);
            fastGot += o.cardinality();
            receiveAll(a, fast, o, T0);
        }
        assertTrue(a.allOfferedOnce());
        assertEquals(40, seen.cardinality());
        assertEquals(38, fastGot, "the peer that took its pieces got every piece but the slow one's two");
        assertEquals(2, a.pending(slow));
        for (int i = 0; i < 40; i++) {
            assertEquals(slowGot.get(i), a.mayRequest(slow, i), "the slow peer may ask for piece " + i + " only if offered");
        }
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
        assertTrue(a.allOfferedOnce());
        a.sent("gone", toGone.nextSetBit(0)); // sent, never announced: lost with its receiver too
        a.disconnected("gone");
        BitSet again = a.offer("stays", 3, T0);
        assertEquals(toGone, again, "the three pieces no connected peer holds");
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
}
