package io.cowherd.distribution.torrent.tracker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.distribution.internal.Bencode;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.OpenResources;
import io.cowherd.distribution.torrent.SwarmFixture;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The embedded tracker answers with the nearest peers first (longest common address prefix). */
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

    /** One announce (event=started, compact); the peers' addresses in the order the tracker gave them. */
    private List<String> announce(URI url, Metainfo m, String ip, int n) throws Exception {
        String peerId = String.format("-CW0001-%012d", n);
        URI u = URI.create(url + "?info_hash=" + percent(m.infoHash()) + "&peer_id=" + peerId + "&port=6881&uploaded=0"
                + "&downloaded=0&left=" + m.totalSize() + "&compact=1&event=started&ip=" + ip);
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(u).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode());
        Bencode.Value peers = Bencode.decode(r.body()).dict().get("peers");
        assertTrue(peers != null, new String(r.body(), java.nio.charset.StandardCharsets.ISO_8859_1));
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
