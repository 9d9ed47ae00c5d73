package io.cowherd.distribution.torrent.libtorrent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PieceStripesTest {

    private static InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal);
    }

    @Test
    void fetchesThatSeeTheSamePeersTakeDisjointStripesCoveringEveryPiece() throws Exception {
        List<InetAddress> hosts = new ArrayList<>();
        for (int i = 2; i <= 9; i++) {
            hosts.add(ip("10.78.0." + i));
        }
        int pieces = 1021; // not a multiple of 8: the last stripe must still end at the last piece
        int[] owners = new int[pieces];
        for (InetAddress self : hosts) {
            List<InetAddress> others = new ArrayList<>(hosts);
            others.remove(self);
            PieceStripes stripes = new PieceStripes(pieces, self);
            boolean[] stripe = stripes.update(others);
            assertNotNull(stripe);
            assertEquals(8, stripes.count());
            int first = -1;
            int last = -1;
            for (int i = 0; i < pieces; i++) {
                if (stripe[i]) {
                    owners[i]++;
                    first = first < 0 ? i : first;
                    last = i;
                }
            }
            assertEquals(last - first + 1, count(stripe), "one run of neighbouring pieces");
        }
        for (int i = 0; i < pieces; i++) {
            assertEquals(1, owners[i], "piece " + i + " in exactly one stripe");
        }
    }

    @Test
    void fetchesShareABootProfileInterleavedEachPieceOnceInTheProfilesOrder() throws Exception {
        List<InetAddress> hosts = new ArrayList<>();
        for (int i = 2; i <= 9; i++) {
            hosts.add(ip("10.78.0." + i));
        }
        List<Integer> profile = List.of(40, 3, 17, 99, 5, 6, 7, 250, 8, 1, 2, 64, 300, 12, 13, 14, 15, 16, 18, 19);
        List<Integer> taken = new ArrayList<>();
        for (InetAddress self : hosts) {
            List<InetAddress> others = new ArrayList<>(hosts);
            others.remove(self);
            PieceStripes stripes = new PieceStripes(301, self);
            stripes.update(others);
            List<Integer> share = stripes.share(profile);
            assertEquals(profile.get(stripes.rank()), share.get(0), "its first piece is the profile's at its rank");
            for (int i = 1; i < share.size(); i++) {
                assertEquals(profile.indexOf(share.get(i - 1)) + 8, profile.indexOf(share.get(i)), "every 8th, in order");
            }
            taken.addAll(share);
        }
        assertEquals(profile.size(), taken.size(), "each profile piece in one share");
        assertEquals(new java.util.HashSet<>(profile), new java.util.HashSet<>(taken));
        PieceStripes alone = new PieceStripes(301, ip("10.78.0.2"));
        assertEquals(profile, alone.share(profile), "before any peer: the whole profile");
        alone.update(List.of());
        assertEquals(profile, alone.share(profile), "alone: the whole profile");
    }

    @Test
    void ranksByAddressNotByTheOrderPeersArrive() throws Exception {
        PieceStripes a = new PieceStripes(100, ip("10.0.0.20"));
        PieceStripes b = new PieceStripes(100, ip("10.0.0.20"));
        boolean[] one = a.update(List.of(ip("10.0.0.3"), ip("10.0.0.100")));
        boolean[] two = b.update(List.of(ip("10.0.0.100"), ip("10.0.0.3"), ip("10.0.0.3")));
        assertArrayEquals(one, two);
        assertEquals(1, a.rank()); // 10.0.0.3 < 10.0.0.20 < 10.0.0.100 as numbers, not as text
        assertEquals(3, a.count());
    }

    @Test
    void aLoneFetchHasNoStripeAndAnUnchangedViewChangesNothing() throws Exception {
        PieceStripes stripes = new PieceStripes(10, ip("10.0.0.1"));
        boolean[] alone = stripes.update(List.of());
        assertEquals(0, count(alone));
        assertNull(stripes.update(List.of(ip("10.0.0.1")))); // itself, e.g. a connection to itself
        assertNotNull(stripes.update(List.of(ip("10.0.0.2"))));
        assertNull(stripes.update(List.of(ip("10.0.0.2"))));
    }

    @Test
    void readsOnlyAddressLiteralsOutOfLibtorrentEndpoints() throws Exception {
        assertEquals(ip("10.78.0.7"), LibtorrentSession.addressOf("tcp://10.78.0.7:6881"));
        assertEquals(ip("::1"), LibtorrentSession.addressOf("tcp://[::1]:6881"));
        assertEquals(ip("127.0.0.1"), LibtorrentSession.addressOf("127.0.0.1:1"));
        assertNull(LibtorrentSession.addressOf("tcp://example.org:6881"));
        assertNull(LibtorrentSession.addressOf("tcp://10.0.0.300:6881"));
        assertNull(LibtorrentSession.addressOf("garbage"));
        assertNull(LibtorrentSession.addressOf(""));
    }

    private static int count(boolean[] flags) {
        int n = 0;
        for (boolean f : flags) {
            n += f ? 1 : 0;
        }
        return n;
    }
}
