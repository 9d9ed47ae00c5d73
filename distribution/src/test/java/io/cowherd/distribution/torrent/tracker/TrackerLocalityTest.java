package io.cowherd.distribution.torrent.tracker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.distribution.internal.Bencode;
import io.cowherd.distribution.internal.Locality;
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

/**
 * The embedded tracker answers with the asker's rack (longest common address prefix first) and a few
 * others, or at random without locality.
 */
class TrackerLocalityTest {
    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void prefixBitsAndRacks() {
        assertEquals(32, Locality.commonPrefixBits(new byte[] {10, 9, 2, 7}, new byte[] {10, 9, 2, 7}));
        assertEquals(24, Locality.commonPrefixBits(new byte[] {10, 9, 2, 7}, new byte[] {10, 9, 2, (byte) 200}));
        assertEquals(22, Locality.commonPrefixBits(new byte[] {10, 9, 2, 7}, new byte[] {10, 9, 1, 7}));
        assertEquals(0, Locality.commonPrefixBits(new byte[] {10, 9, 2, 7}, new byte[16]));
        assertTrue(Locality.sameRack(new byte[] {10, 9, 2, 7}, new byte[] {10, 9, 2, (byte) 200}), "one /24");
        assertFalse(Locality.sameRack(new byte[] {10, 9, 2, 7}, new byte[] {10, 9, 3, 7}), "two /24s");
        assertTrue(Locality.sameRack(v6("2001:db8:0:1::5"), v6("2001:db8:0:1:ffff::9")), "one /64");
        assertFalse(Locality.sameRack(v6("2001:db8:0:1::5"), v6("2001:db8:0:2::5")), "two /64s");
        assertFalse(Locality.sameRack(new byte[] {10, 9, 2, 7}, v6("2001:db8::1")), "two families");
    }

    /**
     * The answer is the asker's rack, its own rack first, whatever the asker wants beyond that (a
     * fetch asking for 200 no longer gets every peer), and {@link TrackedSwarm#FAR_PEERS} others for
     * exactly {@link TrackedSwarm#GATEWAYS} hosts of each rack.
     */
    @Test
    void anAnnounceGetsItsOwnRackAndOnlyGatewaysAFewOthers() throws Exception {
        EmbeddedTracker tracker = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
        Metainfo m = Metainfo.create(SwarmFixture.randomFile(tmp.resolve("a.raw"), 1 << 20, 1), List.of(tracker.announceUrl()), 0, "t");
        tracker.track(m);
        // 40 hosts in one rack (10.9.1.0/24), 10 in another (10.9.2.0/24)
        for (int i = 1; i <= 40; i++) {
            announce(tracker.announceUrl(), m, "10.9.1." + i, i);
        }
        for (int i = 1; i <= 10; i++) {
            announce(tracker.announceUrl(), m, "10.9.2." + i, 100 + i);
        }
        int gateways = 0;
        for (int i = 1; i <= 10; i++) {
            List<String> answer = announce(tracker.announceUrl(), m, "10.9.2." + i, 100 + i, 200);
            assertTrue(answer.size() == 9 || answer.size() == 9 + TrackedSwarm.FAR_PEERS, answer.toString());
            for (int j = 0; j < 9; j++) {
                assertTrue(answer.get(j).startsWith("10.9.2."), "the own rack's peers come first: " + answer);
            }
            assertTrue(answer.subList(9, answer.size()).stream().allMatch(a -> a.startsWith("10.9.1.")), answer.toString());
            String self = "10.9.2." + i;
            assertTrue(answer.stream().noneMatch(self::equals), "never the requester itself");
            gateways += answer.size() > 9 ? 1 : 0;
        }
        assertEquals(TrackedSwarm.GATEWAYS, gateways, "hosts of the rack told of others");
        // a rack larger than the answer: a gateway's far few keep their places
        int bigGateways = 0;
        for (int i = 1; i <= 40; i++) {
            List<String> big = announce(tracker.announceUrl(), m, "10.9.1." + i, i, 30);
            assertEquals(30, big.size(), big.toString());
            long near = big.stream().filter(a -> a.startsWith("10.9.1.")).count();
            assertTrue(near == 30 || near == 30 - TrackedSwarm.FAR_PEERS, big.toString());
            bigGateways += near < 30 ? 1 : 0;
        }
        assertEquals(TrackedSwarm.GATEWAYS, bigGateways);
    }

    /** The two-rack benchmark's shape: 24 hosts and a seed, numwant=200 as libtorrent asks. */
    @Test
    void inTwoRacksAFetchIsToldOfItsRackNotOfEveryPeer() {
        for (boolean locality : new boolean[] {true, false}) {
            TrackedSwarm swarm = new TrackedSwarm(locality);
            long now = System.nanoTime();
            for (int host = 0; host <= 24; host++) { // host 0 (the seed) and the even hosts in rack A
                swarm.announce(peerId(host), ip(host), 6881, host == 0, false, now);
            }
            int[] gateways = new int[3];
            Set<String> gatewayIds = new HashSet<>();
            Set<String> farPicks = new HashSet<>();
            for (int host = 0; host <= 24; host++) {
                List<TrackedSwarm.Peer> answer = swarm.nearest(peerId(host), ip(host), 200, now);
                int rack = host % 2 + 1;
                long own = answer.stream().filter(p -> p.ip()[2] == rack).count();
                if (locality) {
                    assertEquals(rack == 1 ? 12 : 11, own, "host " + host + ": every other host of its rack");
                    assertTrue(answer.size() == own || answer.size() == own + TrackedSwarm.FAR_PEERS, answer.toString());
                    if (answer.size() > own) {
                        gateways[rack]++;
                        gatewayIds.add(new String(peerId(host), StandardCharsets.ISO_8859_1));
                        answer.stream().filter(p -> p.ip()[2] != rack)
                                .forEach(p -> farPicks.add(new String(p.peerId(), StandardCharsets.ISO_8859_1)));
                    }
                } else {
                    assertEquals(24, answer.size(), "without locality: every other peer");
                }
            }
            if (locality) {
                assertEquals(TrackedSwarm.GATEWAYS, gateways[1], "rack A's gateways");
                assertEquals(TrackedSwarm.GATEWAYS, gateways[2], "rack B's gateways");
                // each gateway names FAR_PEERS of the other rack's GATEWAYS gateways: all named are
                // gateways, not all gateways are named (with three gateways and two far peers, one
                // may be named by none, and still connects out to two itself)
                assertTrue(gatewayIds.containsAll(farPicks), "gateways are told of the other rack's gateways, of no other host: "
                        + farPicks + " named, gateways " + gatewayIds);
            }
        }
    }

    /**
     * An origin seed is its rack's gateway only when its rack holds nothing else: an initial seed
     * sends new pieces to its own rack first, so a gateway of another rack would get little from it.
     * A fetch that finishes (announces as a seed) stays its rack's gateway: a new one would draw
     * across the link all it still lacks.
     */
    @Test
    void gatewaysAreFetchesBeforeOriginSeedsAndStayGatewaysWhenTheyFinish() {
        long now = System.nanoTime();
        // 50 swarms, each with its own salt: ranked by id hash alone the seed would be among rack A's
        // 13 peers' lowest two in about 7 of them
        for (int run = 0; run < 50; run++) {
            TrackedSwarm swarm = new TrackedSwarm(true);
            for (int host = 0; host <= 24; host++) { // host 0 (the seed) and the even hosts in rack A
                swarm.announce(peerId(host), ip(host), 6881, host == 0, false, now);
            }
            Set<Integer> before = gatewaysOf(swarm, now);
            assertFalse(before.contains(0), "the origin seed is no gateway: " + before);
            assertEquals(2 * TrackedSwarm.GATEWAYS, before.size(), before.toString());
            for (int host : before) {
                swarm.announce(peerId(host), ip(host), 6881, true, false, now); // finished
            }
            assertEquals(before, gatewaysOf(swarm, now), "finished gateways stay gateways");
        }
        // a rack of the origin seed only: the seed is its gateway, and named to the other rack's gateways
        TrackedSwarm alone = new TrackedSwarm(true);
        alone.announce(peerId(0), new byte[] {10, 78, 9, 1}, 6881, true, false, now);
        for (int host = 1; host <= 6; host++) {
            alone.announce(peerId(host), ip(host), 6881, false, false, now);
        }
        long named = 0;
        for (int host = 1; host <= 6; host++) {
            named += alone.nearest(peerId(host), ip(host), 200, now).stream().filter(p -> p.ip()[2] == 9).count();
        }
        assertEquals(2 * TrackedSwarm.GATEWAYS, named, "the seed alone in its subnet is named to every gateway of both racks");
    }

    /**
     * Hosts that start one after another, each asking as soon as it announced (as the benchmark's
     * fetches do): only the first {@link TrackedSwarm#GATEWAYS} of each rack are ever told of far
     * peers. Ranked by id hash alone, each host that came to rank lowest so far was a gateway for a
     * while, and its far connections stayed.
     */
    @Test
    void theEarliestFetchesOfARackAreItsGatewaysFromTheStart() {
        for (int run = 0; run < 20; run++) {
            TrackedSwarm swarm = new TrackedSwarm(true);
            long now = System.nanoTime();
            swarm.announce(peerId(0), ip(0), 6881, true, false, now);
            Set<Integer> everTold = new java.util.TreeSet<>();
            for (int host = 1; host <= 24; host++) {
                now += 100_000_000L;
                swarm.announce(peerId(host), ip(host), 6881, false, false, now);
                for (int asker = 1; asker <= host; asker++) {
                    int rack = asker % 2 + 1;
                    if (swarm.nearest(peerId(asker), ip(asker), 200, now).stream().anyMatch(p -> p.ip()[2] != rack)) {
                        everTold.add(asker);
                    }
                }
            }
            Set<Integer> first = new java.util.TreeSet<>();
            for (int host = 1; host <= 2 * TrackedSwarm.GATEWAYS; host++) {
                first.add(host); // hosts alternate between the racks
            }
            assertEquals(first, everTold, "run " + run);
        }
    }

    /** The hosts (as numbered by {@link #ip}) told of far peers. */
    private static Set<Integer> gatewaysOf(TrackedSwarm swarm, long now) {
        Set<Integer> out = new java.util.TreeSet<>();
        for (int host = 0; host <= 24; host++) {
            int rack = host % 2 + 1;
            if (swarm.nearest(peerId(host), ip(host), 200, now).stream().anyMatch(p -> p.ip()[2] != rack)) {
                out.add(host);
            }
        }
        return out;
    }

    private static byte[] ip(int host) {
        return new byte[] {10, 78, (byte) (host % 2 + 1), (byte) (host + 2)};
    }

    /**
     * A gateway's far few are the same announce after announce (random ones would add up to every
     * far peer within a few announces), seeds first: a seed alone in another network, as an initial
     * seed may be, is named to every gateway although other racks are nearer (a rule that took the
     * nearest far peers never would).
     */
    @Test
    void theFarFewAreStableAndSeedsComeFirst() {
        TrackedSwarm swarm = new TrackedSwarm(true);
        long now = System.nanoTime();
        for (int i = 1; i <= 40; i++) {
            swarm.announce(peerId(i), new byte[] {10, 9, 2, (byte) i}, 6881, false, false, now);
        }
        swarm.announce(peerId(101), new byte[] {10, 9, 3, 1}, 6881, false, false, now);
        swarm.announce(peerId(102), new byte[] {10, 9, 3, 2}, 6881, false, false, now);
        swarm.announce(peerId(103), new byte[] {(byte) 192, (byte) 168, 0, 1}, 6881, true, false, now);
        int gateways = 0;
        for (int i = 1; i <= 40; i++) {
            byte[] from = {10, 9, 2, (byte) i};
            Set<String> far = farOf(swarm.nearest(peerId(i), from, 200, now));
            if (far.isEmpty()) {
                continue;
            }
            gateways++;
            assertEquals(TrackedSwarm.FAR_PEERS, far.size(), far.toString());
            assertTrue(far.contains("192.168.0.1"), "the seed first: " + far);
            for (int again = 0; again < 20; again++) {
                assertEquals(far, farOf(swarm.nearest(peerId(i), from, 200, now)), "asker " + i + ", announce " + again);
            }
        }
        assertEquals(TrackedSwarm.GATEWAYS, gateways);
    }

    /**
     * Hosts alone in their /24 are each their rack's gateway, and pick different far peers: 40 such
     * hosts all picking the same 2 of 39 has odds of about (1/741)^39.
     */
    @Test
    void hostsAloneInTheirSubnetEachGetAFewDifferentPeers() {
        TrackedSwarm swarm = new TrackedSwarm(true);
        long now = System.nanoTime();
        for (int i = 1; i <= 40; i++) {
            swarm.announce(peerId(i), new byte[] {10, 9, (byte) i, 1}, 6881, false, false, now);
        }
        Set<Set<String>> picks = new HashSet<>();
        for (int i = 1; i <= 40; i++) {
            List<TrackedSwarm.Peer> answer = swarm.nearest(peerId(i), new byte[] {10, 9, (byte) i, 1}, 200, now);
            assertEquals(TrackedSwarm.FAR_PEERS, answer.size());
            Set<String> ids = new HashSet<>();
            answer.forEach(p -> ids.add(new String(p.peerId(), StandardCharsets.ISO_8859_1)));
            picks.add(ids);
        }
        assertTrue(picks.size() > 1, "every host got the same far peers: " + picks);
    }

    /** IPv6: the rack is the /64; IPv4 peers are never in it. */
    @Test
    void anIpv6AskerGetsItsSlash64First() {
        TrackedSwarm swarm = new TrackedSwarm(true);
        long now = System.nanoTime();
        for (int i = 1; i <= 3; i++) {
            swarm.announce(peerId(i), v6("2001:db8:0:1::" + i), 6881, false, false, now);
        }
        for (int i = 1; i <= 10; i++) {
            swarm.announce(peerId(10 + i), v6("2001:db8:0:2::" + i), 6881, false, false, now);
            swarm.announce(peerId(20 + i), new byte[] {10, 9, 2, (byte) i}, 6881, false, false, now);
        }
        List<TrackedSwarm.Peer> answer = swarm.nearest(peerId(99), v6("2001:db8:0:1::99"), 200, now);
        assertTrue(answer.size() == 3 || answer.size() == 3 + TrackedSwarm.FAR_PEERS, answer.toString());
        for (int i = 0; i < 3; i++) {
            assertTrue(Locality.sameRack(answer.get(i).ip(), v6("2001:db8:0:1::99")), "its /64 first");
        }
        for (int i = 3; i < answer.size(); i++) {
            assertFalse(Locality.sameRack(answer.get(i).ip(), v6("2001:db8:0:1::99")));
        }
    }

    private static Set<String> farOf(List<TrackedSwarm.Peer> answer) {
        Set<String> far = new HashSet<>();
        for (TrackedSwarm.Peer p : answer) {
            if (p.ip()[0] != 10 || p.ip()[2] != 2) {
                far.add((p.ip()[0] & 0xff) + "." + (p.ip()[1] & 0xff) + "." + (p.ip()[2] & 0xff) + "." + (p.ip()[3] & 0xff));
            }
        }
        return far;
    }

    private static byte[] v6(String literal) {
        try {
            return java.net.InetAddress.getByName(literal).getAddress();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /**
     * Without locality the own subnet gets no preference. 10 near peers among 200: a locality answer
     * of 10 holds 10 near ones, or 8 and a gateway's far few, every time (8,000 or more in 1,000 answers); a random one holds
     * 0.5 on average (about 500 in 1,000, standard deviation about 21), so at most 1,000 cannot be
     * reached by a rack-aware tracker and is missed by a random one only with odds far below 1e-30. The answers
     * also spread: a peer is in none of 1,000 random answers with probability 0.95^1000 (1e-22).
     */
    @Test
    void withoutLocalityAnswersAreRandomNotNearestFirst() {
        Set<String> seen = new HashSet<>();
        int near = nearIn1000Answers(new TrackedSwarm(false), seen);
        assertTrue(near <= 1000, near + " of 10,000 answered peers are in the requester's /24: rack-aware");
        assertEquals(200, seen.size(), "every peer turns up in 1,000 random answers");
        assertTrue(nearIn1000Answers(new TrackedSwarm(true), new HashSet<>()) >= 1000 * (10 - TrackedSwarm.FAR_PEERS),
                "with locality: near ones but for a gateway's far few, every time");
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
