package io.cowherd.distribution.torrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.UnsupportedFeatureException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the libtorrent engine adds: magnet links, the DHT on loopback, the HTTP origin fallback,
 * session-wide rate limits that hold for local peers too, stripes of pieces per fetch. Loopback only: the DHT nodes know no
 * node but each other (no public router).
 */
@Timeout(120)
class LibtorrentEngineTest {
    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    private Path bundleDir(long seed) throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/dir/disk.raw"), 8L << 20, seed);
        Files.writeString(tmp.resolve("seed/dir/domain.xml"), "<domain/>");
        return data;
    }

    private void assertFetched(Path data, String into) throws Exception {
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve(into + "/dir/disk.raw")));
        assertEquals("<domain/>", Files.readString(tmp.resolve(into + "/dir/domain.xml")));
        try (var s = Files.walk(tmp.resolve(into))) {
            assertTrue(s.noneMatch(p -> p.toString().endsWith(".part")), "no .part file is left");
        }
    }

    @Test
    void aMagnetLinkFetchGetsTheMetadataFromPeersAndIsByteIdentical() throws Exception {
        TorrentEngine engine = new LibtorrentEngine();
        TrackerHandle tracker = open.keep(engine.startTracker(SwarmFixture.trackerAddress()));
        Path data = bundleDir(23);
        Metainfo m = Metainfo.create(data.getParent(), List.of(tracker.announceUrl()), 256 << 10, "test");
        tracker.track(m);
        open.keep(engine.seed(m, tmp.resolve("seed"), SessionOptions.on(SwarmFixture.host())));
        TorrentSession fetch = open.keep(engine.fetch(MagnetLink.parse(m.magnetUri()), tmp.resolve("out"),
                SessionOptions.on(SwarmFixture.host())));
        fetch.awaitCompletion(WAIT);
        assertEquals(m.infoHashHex(), fetch.metainfo().infoHashHex(), "the metadata came from the seed");
        assertFetched(data, "out");
    }

    @Test
    void aMagnetFetchFindsTheSeedThroughTheDhtAloneAndIsByteIdentical() throws Exception {
        Path data = bundleDir(21);
        Metainfo m = Metainfo.create(data.getParent(), List.of(), 256 << 10, "test"); // no tracker at all
        // the seed is the first DHT node; a plain DHT node joins through it and the fetcher through that
        TorrentSession seed = open.keep(new LibtorrentEngine(List.of())
                .seed(m, tmp.resolve("seed"), SessionOptions.on(SwarmFixture.host())));
        InetSocketAddress node = seed.listenAddress();
        MagnetLink magnet = MagnetLink.parse(m.magnetUri());
        assertTrue(magnet.trackers().isEmpty(), "the magnet link names no tracker and no peer");
        TorrentSession fetch = open.keep(new LibtorrentEngine(List.of(node))
                .fetch(magnet, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host()).withNoPeerTimeout(Duration.ofSeconds(60))));
        fetch.awaitCompletion(WAIT);
        assertEquals(m.infoHashHex(), fetch.metainfo().infoHashHex(), "the metadata came from the seed");
        assertFetched(data, "out");
    }

    @Test
    void fetchesStartingTogetherTakeDisjointStripesAndTheTraceRecordsWhatTheSeedSent() throws Exception {
        TorrentEngine engine = new LibtorrentEngine();
        TrackerHandle tracker = open.keep(engine.startTracker(SwarmFixture.trackerAddress()));
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/golden.raw"), 12L << 20, 8);
        Metainfo m = Metainfo.create(data, List.of(tracker.announceUrl()), 64 << 10, "test");
        tracker.track(m);
        InetAddress seedHost = SwarmFixture.host();
        String prefix = tmp.resolve("trace").toString();
        System.setProperty(LibtorrentTrace.PROPERTY, prefix);
        try {
            open.keep(engine.seed(m, data.getParent(), SessionOptions.on(seedHost)));
        } finally {
            System.clearProperty(LibtorrentTrace.PROPERTY); // the seed alone writes a trace
        }
        List<LibtorrentSession> fetches = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            // slow enough that the three see each other long before they are done
            fetches.add((LibtorrentSession) open.keep(engine.fetch(m, tmp.resolve("out" + i),
                    SessionOptions.on(SwarmFixture.host()).withRateLimits(2L << 20, 0))));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        Set<String> stripes = Set.of();
        while (System.nanoTime() < deadline) {
            stripes = fetches.stream().map(LibtorrentSession::stripe).collect(Collectors.toSet());
            if (stripes.equals(Set.of("0/3", "1/3", "2/3"))) {
                break;
            }
            Thread.sleep(100);
        }
        assertEquals(Set.of("0/3", "1/3", "2/3"), stripes, "three fetches, three different stripes");
        for (int i = 0; i < 3; i++) {
            fetches.get(i).awaitCompletion(WAIT);
            assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out" + i + "/golden.raw")));
        }
        List<String> trace = Files.readAllLines(Path.of(prefix + "." + seedHost.getHostAddress()));
        assertTrue(trace.stream().anyMatch(l -> l.matches("\\d+\\.\\d{3} up \\d+ \\d+ 127\\.0\\.1\\.\\d+")), "block lines");
    }

    @Test
    void aFetchFallsBackToTheHttpOriginWhenNoPeerHasTheData() throws Exception {
        TorrentEngine engine = new LibtorrentEngine();
        TrackerHandle tracker = open.keep(engine.startTracker(SwarmFixture.trackerAddress()));
        Path data = bundleDir(25);
        Metainfo m = Metainfo.create(data.getParent(), List.of(tracker.announceUrl()), 256 << 10, "test");
        tracker.track(m); // no seed joins the swarm: only the origin has the data
        HttpOrigin origin = open.keep(HttpOrigin.serve(tmp.resolve("seed"), new InetSocketAddress(SwarmFixture.host(), 0)));
        TorrentSession fetch = open.keep(engine.fetch(m, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())
                .withOrigins(List.of(origin.url()), Duration.ofSeconds(2)).withNoPeerTimeout(Duration.ofSeconds(30))));
        fetch.awaitCompletion(WAIT);
        assertTrue(((LibtorrentSession) fetch).usingOrigins());
        assertFetched(data, "out");
    }

    @Test
    void theDownloadLimitHoldsForLocalPeersToo() throws Exception {
        TorrentEngine engine = new LibtorrentEngine();
        TrackerHandle tracker = open.keep(engine.startTracker(SwarmFixture.trackerAddress()));
        long size = 6L << 20;
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/golden.raw"), size, 4);
        Metainfo m = Metainfo.create(data, List.of(tracker.announceUrl()), 256 << 10, "test");
        tracker.track(m);
        open.keep(engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host())));
        open.keep(engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host())));
        long t0 = System.nanoTime();
        TorrentSession s = open.keep(engine.fetch(m, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())
                .withRateLimits(2L << 20, 0)));
        s.awaitCompletion(WAIT);
        double secs = (System.nanoTime() - t0) / 1e9;
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out/golden.raw")));
        // 6 MiB at 2 MiB/s from two loopback seeds: about 3 s, never much less (libtorrent's
        // default would leave loopback peers unlimited)
        assertTrue(secs > 2.2, "6 MiB at 2 MiB/s took only " + secs + " s");
    }

    @Test
    void aTorrentWithoutTrackerNeedsTheDhtOrAnOrigin() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/a.raw"), 1L << 20, 2);
        Metainfo m = Metainfo.create(data, List.of(), 0, "test");
        assertThrows(UnsupportedFeatureException.class,
                () -> new LibtorrentEngine().fetch(m, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())));
        SessionOptions withOrigin = SessionOptions.on(SwarmFixture.host())
                .withOrigins(List.of(java.net.URI.create("http://127.0.0.1:1/")), Duration.ZERO);
        for (TorrentEngine other : List.of(new TtorrentEngine())) {
            UnsupportedFeatureException e = assertThrows(UnsupportedFeatureException.class,
                    () -> other.fetch(m, tmp.resolve("out"), withOrigin));
            assertTrue(e.getMessage().contains("HTTP origin"), other.name() + " refuses origins rather than ignoring them: "
                    + e.getMessage());
        }
    }
}
