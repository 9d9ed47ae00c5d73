package io.cowherd.distribution.torrent.libtorrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.distribution.torrent.EngineTuning;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.OpenResources;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.SwarmFixture;
import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.seeder.InitialSeeder;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.net.InetAddress;
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
 * What only the libtorrent engine does: stripes of pieces per fetch, and the trace the swarm
 * benchmark analyses. Its features (magnet links, DHT, HTTP origin, session rate limits) are
 * checked with every engine's by the contract kit ({@code EngineContractTest}).
 */
@Timeout(120)
class LibtorrentEngineTest {
    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    /** {@code tmp/seed/golden.raw}: random bytes (seeded by {@code seed}); its torrent, tracked by a tracker of the test's own. */
    private Metainfo trackedTorrent(long size, int pieceLength, long seed) throws Exception {
        EmbeddedTracker tracker = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/golden.raw"), size, seed);
        Metainfo m = Metainfo.create(data, List.of(tracker.announceUrl()), pieceLength, "test");
        tracker.track(m);
        return m;
    }

    /** A boot profile's pieces for the tests: every fourth piece from piece 2. */
    private static List<Integer> everyFourthFromTwo(Metainfo m) {
        List<Integer> profile = new ArrayList<>();
        for (int p = 2; p < m.pieceCount(); p += 4) {
            profile.add(p);
        }
        return profile;
    }

    @Test
    void fetchesStartingTogetherTakeDisjointStripesAndTheTraceRecordsWhatTheSeedSent() throws Exception {
        TorrentEngine engine = new LibtorrentEngine();
        Metainfo m = trackedTorrent(12L << 20, 64 << 10, 8);
        Path data = tmp.resolve("seed/golden.raw");
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

    /**
     * A fetch with a boot profile holds all of the profile's pieces before any other: a seed sends
     * 64 pieces at 2 MiB/s to two fetches whose profile is every fourth piece. Each takes its share
     * of the profile (half) from the seed as deadlines; the other half must then come from the other
     * fetch before anything else, although rarest-first would rank pieces no fetch holds first (the
     * other's share is held by one). A few others may be under way before the profile is set.
     */
    @Test
    void aFetchWithABootProfileHoldsItsPiecesBeforeAnyOther() throws Exception {
        TorrentEngine engine = new LibtorrentEngine();
        Metainfo m = trackedTorrent(16L << 20, 256 << 10, 9);
        Path data = tmp.resolve("seed/golden.raw");
        open.keep(engine.seed(m, data.getParent(), SwarmFixture.uploadLimited(engine, SessionOptions.on(SwarmFixture.host()), 2L << 20)));
        List<Integer> profile = everyFourthFromTwo(m);
        List<LibtorrentSession> fetches = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            LibtorrentSession fetch = (LibtorrentSession) open.keep(engine.fetch(m, tmp.resolve("out" + i),
                    SessionOptions.on(SwarmFixture.host())));
            fetch.prefetch(profile);
            fetches.add(fetch);
        }
        int[] othersBefore = {-1, -1};
        long deadline = System.nanoTime() + WAIT.toNanos();
        while ((othersBefore[0] < 0 || othersBefore[1] < 0) && System.nanoTime() < deadline) {
            for (int i = 0; i < 2; i++) {
                LibtorrentSession fetch = fetches.get(i);
                if (othersBefore[i] < 0 && profile.stream().allMatch(fetch::havePiece)) {
                    othersBefore[i] = (int) java.util.stream.IntStream.range(0, m.pieceCount())
                            .filter(p -> !profile.contains(p) && fetch.havePiece(p)).count();
                }
            }
            Thread.sleep(10);
        }
        for (int i = 0; i < 2; i++) {
            assertTrue(othersBefore[i] >= 0, "fetch " + i + " held the profile's 16 pieces");
            assertTrue(othersBefore[i] <= 4, "fetch " + i + " held " + othersBefore[i] + " of the 48 other pieces before the profile's");
        }
        for (int i = 0; i < 2; i++) {
            fetches.get(i).awaitCompletion(WAIT);
            assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out" + i + "/golden.raw")));
        }
    }

    /**
     * A profile piece no source has does not hold back the rest: the seed's copy of piece 6 (in the
     * profile) is corrupt, so the seed drops it at the first request and nobody has it. After 10 s
     * without a piece the fetch wants everything again and gets the other 63; held back for good, it
     * would have held the profile's other 15 only.
     */
    @Test
    void aProfilePieceNoSourceHasDoesNotHoldBackTheRest() throws Exception {
        TorrentEngine engine = new LibtorrentEngine();
        Metainfo m = trackedTorrent(16L << 20, 256 << 10, 10);
        Path data = tmp.resolve("seed/golden.raw");
        int lost = 6;
        try (var f = java.nio.channels.FileChannel.open(data, java.nio.file.StandardOpenOption.WRITE)) {
            byte[] junk = new byte[4096];
            java.util.Arrays.fill(junk, (byte) 0x5a);
            f.write(java.nio.ByteBuffer.wrap(junk), (long) lost * (256 << 10));
        }
        open.keep(engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host())));
        List<Integer> profile = everyFourthFromTwo(m);
        LibtorrentSession fetch = (LibtorrentSession) open.keep(engine.fetch(m, tmp.resolve("out"),
                SessionOptions.on(SwarmFixture.host()).withNoPeerTimeout(Duration.ofSeconds(60))));
        fetch.prefetch(profile);
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        int held = 0;
        while (held < m.pieceCount() - 1 && System.nanoTime() < deadline) {
            Thread.sleep(100);
            held = fetch.progress().piecesDone();
        }
        assertEquals(m.pieceCount() - 1, held, "every piece but the lost one arrived");
        assertTrue(!fetch.havePiece(lost), "nobody had piece " + lost);
    }

    @Test
    void aSessionAsksAsFarAheadOfEachPeerAsItsTuningSays() throws Exception {
        TorrentEngine engine = new LibtorrentEngine();
        Metainfo m = trackedTorrent(1L << 20, 256 << 10, 12);
        int[] asked = new int[2];
        EngineTuning[] tunings = {EngineTuning.DEFAULT, EngineTuning.STREAMING};
        for (int i = 0; i < 2; i++) {
            try (LibtorrentSession fetch = (LibtorrentSession) engine.fetch(m, tmp.resolve("out" + i),
                    SessionOptions.on(SwarmFixture.host()).withTuning(tunings[i]))) {
                asked[i] = fetch.maxOutRequestQueue();
            }
        }
        assertEquals(EngineTuning.DEFAULT.maxOutRequests(), asked[0]);
        assertEquals(32, asked[1], "a streamed fetch keeps a shallow queue");
    }

    /**
     * A reader's next piece moves the deadlines already set instead of starting libtorrent's list of
     * time-critical pieces over: starting it over cancelled every request under way for other
     * pieces, and the blocks already sent were dropped on arrival and sent again (eight hosts
     * streaming a Debian guest: 15-27 MB of its boot profile sent twice by the seed). An initial
     * seed at 2 MiB/s counts the CANCELs it gets. The fetch asks for the last piece (offered last:
     * it stays on the list), and once pieces flow again for the one before it: that must cancel nothing.
     */
    @Test
    void askingForAnotherPieceCancelsNoRequestUnderWay() throws Exception {
        Metainfo m = trackedTorrent(8L << 20, 256 << 10, 13);
        Path data = tmp.resolve("seed/golden.raw");
        InitialSeeder seed = open.keep(InitialSeeder.start(m, data.getParent(),
                SessionOptions.on(SwarmFixture.host()).withRateLimits(0, 2L << 20)));
        LibtorrentSession fetch = (LibtorrentSession) open.keep(new LibtorrentEngine().fetch(m, tmp.resolve("out"),
                SessionOptions.on(SwarmFixture.host()).withTuning(EngineTuning.STREAMING)));
        int last = m.pieceCount() - 1;
        awaitPieces(fetch, 1);
        fetch.fetchFirst(List.of(last)); // the first deadline: libtorrent cancels what is under way
        awaitPieces(fetch, 5);
        long cancels = seed.cancelsReceived();
        fetch.fetchFirst(List.of(last - 1));
        awaitPieces(fetch, 13);
        assertEquals(cancels, seed.cancelsReceived(), "asking for another piece cancelled requests under way");
        fetch.awaitCompletion(WAIT);
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out/golden.raw")));
    }

    private static void awaitPieces(LibtorrentSession fetch, int pieces) throws InterruptedException {
        long until = System.nanoTime() + WAIT.toNanos();
        while (fetch.progress().piecesDone() < pieces && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        assertTrue(fetch.progress().piecesDone() >= pieces, "the fetch held " + pieces + " pieces");
    }

    /** close() interrupts its own thread to cut libtorrent4j's stop() short: the caller must not see it. */
    @Test
    void closingASessionLeavesTheCallersInterruptStatusAsItWas() throws Exception {
        TorrentEngine engine = new LibtorrentEngine();
        Metainfo m = trackedTorrent(1L << 20, 256 << 10, 11);
        Path data = tmp.resolve("seed/golden.raw");
        engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host())).close();
        assertFalse(Thread.currentThread().isInterrupted(), "close() left an interrupt behind");

        var seed = engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host()));
        Thread.currentThread().interrupt();
        try {
            seed.close();
            assertTrue(Thread.currentThread().isInterrupted(), "close() swallowed the caller's interrupt");
        } finally {
            Thread.interrupted();
        }
    }
}
