package io.cowherd.distribution.torrent.tracker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded tracker as a network-facing parser: every malformed announce gets a bencoded
 * failure reason (never an error page or a dropped connection), non-compact answers and scrape
 * carry the right peers and counts, and a burst of random queries leaves it answering.
 */
class EmbeddedTrackerTest {
    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    private final HttpClient http = HttpClient.newHttpClient();

    private Bencode.Value get(URI base, String path) throws Exception {
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create("http://" + base.getAuthority() + path)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode(), path);
        return Bencode.decode(r.body());
    }

    private static String percent(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append('%').append(String.format("%02X", x & 0xff));
        }
        return s.toString();
    }

    @Test
    void malformedAnnouncesGetAFailureReason() throws Exception {
        EmbeddedTracker t = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
        Metainfo m = Metainfo.create(SwarmFixture.randomFile(tmp.resolve("a.raw"), 1 << 20, 1), List.of(t.announceUrl()), 0, "t");
        t.track(m);
        URI u = t.announceUrl();
        String hash = percent(m.infoHash());
        String ok = "/announce?info_hash=" + hash + "&peer_id=-CW0001-000000000001&port=6881&left=0";
        for (String bad : List.of("/announce", "/announce?info_hash=%41", "/announce?info_hash=" + hash,
                ok.replace("port=6881", "port=0"), ok.replace("port=6881", "port=x"), ok.replace(hash, percent(new byte[20])),
                ok.replace("-CW0001-000000000001", "short"), ok + "&numwant=abc")) {
            Bencode.Value v = get(u, bad);
            assertTrue(v.dict().containsKey("failure reason"), bad + " -> " + v.dict().keySet());
        }
        Bencode.Value fine = get(u, ok + "&numwant=999999");
        assertEquals(EmbeddedTracker.INTERVAL_SECONDS, fine.dict().get("interval").number());
        assertEquals(1, fine.dict().get("complete").number());
    }

    @Test
    void nonCompactAnswersAndScrapeNameThePeers() throws Exception {
        EmbeddedTracker t = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
        Metainfo m = Metainfo.create(SwarmFixture.randomFile(tmp.resolve("b.raw"), 1 << 20, 2), List.of(t.announceUrl()), 0, "t");
        t.track(m);
        String hash = percent(m.infoHash());
        get(t.announceUrl(), "/announce?info_hash=" + hash + "&peer_id=-CW0001-000000000001&port=7001&left=0&ip=10.1.1.1");
        Bencode.Value v = get(t.announceUrl(), "/announce?info_hash=" + hash
                + "&peer_id=-CW0001-000000000002&port=7002&left=5&ip=10.1.1.2&compact=0");
        List<Bencode.Value> peers = v.dict().get("peers").list();
        assertEquals(1, peers.size());
        assertEquals("10.1.1.1", new String(peers.get(0).dict().get("ip").bytes(), StandardCharsets.US_ASCII));
        assertEquals(7001, peers.get(0).dict().get("port").number());
        assertArrayEquals("-CW0001-000000000001".getBytes(StandardCharsets.US_ASCII), peers.get(0).dict().get("peer id").bytes());

        // A host name in ip= is not resolved, nor is what only looks like an address: the peer is
        // recorded at the address it announced from.
        get(t.announceUrl(), "/announce?info_hash=" + hash + "&peer_id=-CW0001-000000000003&port=7003&left=5&ip=example.com");
        get(t.announceUrl(), "/announce?info_hash=" + hash + "&peer_id=-CW0001-000000000004&port=7004&left=5&ip=999.1.1.1");
        List<String> ips = get(t.announceUrl(), "/announce?info_hash=" + hash
                + "&peer_id=-CW0001-000000000002&port=7002&left=5&ip=10.1.1.2&compact=0").dict().get("peers").list().stream()
                .map(p -> new String(p.dict().get("ip").bytes(), StandardCharsets.US_ASCII)).toList();
        assertEquals(List.of("10.1.1.1", "127.0.0.1", "127.0.0.1"), ips, "nearest first, the others at their own address");
        get(t.announceUrl(), "/announce?info_hash=" + hash + "&peer_id=-CW0001-000000000003&port=7003&event=stopped");
        get(t.announceUrl(), "/announce?info_hash=" + hash + "&peer_id=-CW0001-000000000004&port=7004&event=stopped");

        Bencode.Value scrape = get(t.announceUrl(), "/scrape");
        Bencode.Value counts = scrape.dict().get("files").dict().values().iterator().next();
        assertEquals(1, counts.dict().get("complete").number());
        assertEquals(1, counts.dict().get("incomplete").number());

        get(t.announceUrl(), "/announce?info_hash=" + hash + "&peer_id=-CW0001-000000000001&port=7001&left=0&event=stopped");
        assertEquals(0, get(t.announceUrl(), "/scrape").dict().get("files").dict().values().iterator().next().dict()
                .get("complete").number(), "a stopped peer leaves");
    }

    @Test
    void randomQueriesNeverBreakIt() throws Exception {
        EmbeddedTracker t = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
        Random r = new Random(7);
        String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789&=+_-.";
        List<String> names = List.of("info_hash=", "peer_id=", "port=", "left=", "numwant=", "ip=", "compact=", "event=");
        for (int i = 0; i < 300; i++) {
            StringBuilder q = new StringBuilder("/announce?");
            for (int n = r.nextInt(40); n > 0; n--) {
                int kind = r.nextInt(10);
                if (kind == 0) {
                    q.append(names.get(r.nextInt(names.size())));
                } else if (kind == 1) {
                    q.append(String.format("%%%02X", r.nextInt(256))); // any byte, escaped
                } else {
                    q.append(alphabet.charAt(r.nextInt(alphabet.length())));
                }
            }
            assertTrue(get(t.announceUrl(), q.toString()).dict().containsKey("failure reason"), q.toString());
        }
    }
}
