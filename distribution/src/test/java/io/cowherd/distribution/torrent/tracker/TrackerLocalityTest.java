package io.cowherd.distribution.torrent.tracker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.distribution.internal.Bencode;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.OpenResources;
import io.cowherd.distribution.torrent.SwarmFixture;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The embedded tracker answers with the nearest peers first (longest common address prefix), or at random without locality. */
class TrackerLocalityTest {
    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void prefixBits() {
        assertEquals(32, TrackedSwarm.commonPrefixBits(new byte[] {10, 9, 2, 7}, new byte[] {10, 9, 2, 7}));
        assertEquals(24, TrackedSwarm.commonPrefixBits(new byte[] {10, 9, 2, 7}, new byte[] {10, 9, 2, (byte) 200}));
        assertEquals(22, TrackedSwarm.commonPrefixBits(new byte[] {10, 9, 2, 7}, new byte[] {10, 9, 1, 7}));
        assertEquals(0, TrackedSwarm.commonPrefixBits(new byte[] {10, 9, 2, 7}, new byte[16]));
    }

    @Test
    void anAnnounceGetsThePeersOfItsOwnSubnetFirst() throws Exception {
        EmbeddedTracker tracker = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
        Metainfo m = Metainfo.create(SwarmFixture.randomFile(tmp.resolve("a.raw"), 1 << 20, 1), List.of(tracker.announceUrl()), 0, "t");
        tracker.track(m);
        // 40 hosts in one site (10.9.1.0/24), 10 in another (10.9.2.0/24): more than one answer holds
        for (int i = 1; i <= 40; i++) {
            announce(tracker.announceUrl(), m, "10.9.1." + i, i);
        }
        for (int i = 1; i <= 10; i++) {
            announce(tracker.announceUrl(), m, "10.9.2." + i, 100 + i);
        }
        List<String> answer = announce(tracker.announceUrl(), m, "10.9.2.200", 200);
        assertEquals(TrackedSwarm.ANSWER_PEERS, answer.size(), answer.toString());
        for (int i = 0; i < 10; i++) {
            assertTrue(answer.get(i).startsWith("10.9.2."), "the own site's peers come first: " + answer);
        }
        assertTrue(answer.stream().noneMatch(a -> a.equals("10.9.2.200")), "never the requester itself");
    }

    /**
     * Without locality the own subnet gets no preference. 10 near peers among 200: a locality answer
     * of 10 holds the 10 near ones every time (10,000 in 1,000 answers); a random one holds 0.5 on
     * average (about 500 in 1,000, standard deviation about 21), so at most 1,000 cannot be reached
     * by a sorting tracker and is missed by a random one only with odds far below 1e-30. The answers
     * also spread: a peer is in none of 1,000 random answers with probability 0.95^1000 (1e-22).
     */
    @Test
    void withoutLocalityAnswersAreRandomNotNearestFirst() {
        Set<String> seen = new HashSet<>();
        int near = nearIn1000Answers(new TrackedSwarm(false), seen);
        assertTrue(near <= 1000, near + " of 10,000 answered peers are in the requester's /24: sorted by prefix");
        assertEquals(200, seen.size(), "every peer turns up in 1,000 random answers");
        assertEquals(10_000, nearIn1000Answers(new TrackedSwarm(true), new HashSet<>()), "with locality: the near ones every time");
    }

    /**
     * Fills {@code swarm} with 10 peers in 10.9.2.0/24 and 190 in 10.8.0.0/16, asks 1,000 times for 10
     * peers from 10.9.2.200 and returns how many answered peers were near; {@code seen} gets their ids.
     */
    private static int nearIn1000Answers(TrackedSwarm swarm, Set<String> seen) {
        long now = System.nanoTime();
        for (int i = 1; i <= 10; i++) {
            swarm.announce(peerId(i), new byte[] {10, 9, 2, (byte) i}, 6881, false, false, now);
        }
        for (int i = 1; i <= 190; i++) {
            swarm.announce(peerId(100 + i), new byte[] {10, 8, (byte) (1 + i / 100), (byte) (i % 100 + 1)}, 6881, false, false, now);
        }
        byte[] me = peerId(1000);
        byte[] from = {10, 9, 2, (byte) 200};
        swarm.announce(me, from, 6881, false, false, now);
        int near = 0;
        for (int r = 0; r < 1000; r++) {
            List<TrackedSwarm.Peer> answer = swarm.nearest(me, from, 10, now);
            assertEquals(10, answer.size());
            for (TrackedSwarm.Peer p : answer) {
                assertFalse(Arrays.equals(p.peerId(), me), "never the requester itself");
                near += p.ip()[1] == 9 ? 1 : 0;
                seen.add(new String(p.peerId(), StandardCharsets.ISO_8859_1));
            }
        }
        return near;
    }

    /**
     * The switch reaches the tracker's swarms: one near peer among 30, asked for one peer 20 times.
     * With locality that is the near one 20 times; at random it is each time with probability 1/30,
     * 15 times or more with odds of about 1e-18.
     */
    @Test
    void aTrackerWithoutLocalityAnswersAtRandom() throws Exception {
        EmbeddedTracker tracker = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress(), false));
        Metainfo m = Metainfo.create(SwarmFixture.randomFile(tmp.resolve("a.raw"), 1 << 20, 1), List.of(tracker.announceUrl()), 0, "t");
        tracker.track(m);
        announce(tracker.announceUrl(), m, "10.9.2.1", 1, 0);
        for (int i = 1; i <= 29; i++) {
            announce(tracker.announceUrl(), m, "10.8.1." + i, 100 + i, 0);
        }
        int near = 0;
        for (int r = 0; r < 20; r++) {
            List<String> answer = announce(tracker.announceUrl(), m, "10.9.2.200", 1000, 1);
            assertEquals(1, answer.size(), answer.toString());
            near += answer.get(0).equals("10.9.2.1") ? 1 : 0;
        }
        assertTrue(near < 15, "the near peer came " + near + " times of 20: sorted by prefix");
    }

    private static byte[] peerId(int n) {
        return String.format("-CW0001-%012d", n).getBytes(StandardCharsets.ISO_8859_1);
    }

    /** One announce (event=started, compact); the peers' addresses in the order the tracker gave them. */
    private List<String> announce(URI url, Metainfo m, String ip, int n) throws Exception {
        return announce(url, m, ip, n, TrackedSwarm.ANSWER_PEERS);
    }

    /** The same asking for {@code numwant} peers (0: announce only). */
    private List<String> announce(URI url, Metainfo m, String ip, int n, int numwant) throws Exception {
        String peerId = String.format("-CW0001-%012d", n);
        URI u = URI.create(url + "?info_hash=" + percent(m.infoHash()) + "&peer_id=" + peerId + "&port=6881&uploaded=0"
                + "&downloaded=0&left=" + m.totalSize() + "&compact=1&event=started&ip=" + ip + "&numwant=" + numwant);
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(u).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        Bencode.Value peers = Bencode.decode(r.body()).dict().get("peers");
        assertTrue(peers != null, new String(r.body(), StandardCharsets.ISO_8859_1));
        byte[] raw = peers.bytes();
        List<String> out = new ArrayList<>();
        for (int i = 0; i + 6 <= raw.length; i += 6) {
            out.add((raw[i] & 0xff) + "." + (raw[i + 1] & 0xff) + "." + (raw[i + 2] & 0xff) + "." + (raw[i + 3] & 0xff));
        }
        return out;
    }

    private static String percent(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append('%').append(String.format("%02X", x & 0xff));
        }
        return s.toString();
    }
}
