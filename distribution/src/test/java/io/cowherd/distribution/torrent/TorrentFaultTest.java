package io.cowherd.distribution.torrent;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Swarms with faults: peers killed, a peer serving corrupt pieces, a seed restarted, a fetch resumed. */
@Timeout(150)
class TorrentFaultTest {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final long SIZE = 16L << 20;

    @TempDir
    Path tmp;

    private TorrentEngine engine;
    @RegisterExtension
    final OpenResources open = new OpenResources();
    private EmbeddedTracker tracker;
    private Path data;
    private Metainfo m;

    private void start(String engineName) throws IOException {
        engine = SwarmFixture.engine(engineName);
        tracker = EmbeddedTracker.start(SwarmFixture.trackerAddress());
        open.keep(tracker);
        data = SwarmFixture.randomFile(tmp.resolve("seed/golden.raw"), SIZE, 11);
        m = Metainfo.create(data, List.of(tracker.announceUrl()), 256 << 10, "test");
        tracker.track(m);
    }

    private TorrentSession fetcher(String dir) {
        return open.keep(engine.fetch(m, tmp.resolve(dir), SessionOptions.on(SwarmFixture.host())
                .withNoPeerTimeout(Duration.ofSeconds(60))));
    }

    private static void waitFor(java.util.function.BooleanSupplier cond, String what) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    private void assertIdentical(String dir) throws IOException {
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve(dir).resolve(m.name())), dir + " holds the seed's bytes");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.cowherd.distribution.torrent.SwarmFixture#engines")
    void twoOfEightPeersKilledMidTransferTheOthersFinish(String engineName) throws Exception {
        start(engineName);
        // a slow seed (2 MiB/s up) keeps the transfer going long enough to kill peers in the middle
        open.keep(engine.seed(m, data.getParent(), SwarmFixture.uploadLimited(engine, SessionOptions.on(SwarmFixture.host()), 2L << 20)));
        List<TorrentSession> peers = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            peers.add(fetcher("host" + i));
        }
        waitFor(() -> peers.get(0).progress().piecesDone() > 0 && peers.get(1).progress().piecesDone() > 0,
                "two peers hold a piece");
        peers.get(0).close();
        peers.get(1).close();
        for (int i = 2; i < 8; i++) {
            peers.get(i).awaitCompletion(WAIT);
            assertIdentical("host" + i);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.cowherd.distribution.torrent.SwarmFixture#engines")
    void aPeerServingCorruptPiecesIsBannedAndTheFetchStillFinishes(String engineName) throws Exception {
        start(engineName);
        Path bad = tmp.resolve("bad/" + m.name());
        Files.createDirectories(bad.getParent());
        Files.copy(data, bad);
        try (FileChannel ch = FileChannel.open(bad, StandardOpenOption.WRITE)) {
            for (long pos = 1000; pos < SIZE; pos += 256 << 10) {
                ch.write(ByteBuffer.wrap(new byte[] {(byte) 0xAA, 0x55}), pos); // every piece differs
            }
        }
        startLiar(bad.getParent());
        TorrentSession victim = fetcher("victim");
        // libtorrent bans a peer at its first bad piece when that peer alone sent the piece
        int caught = "libtorrent".equals(engine.name()) ? 1 : 2;
        waitFor(() -> victim.progress().hashFailures() >= caught, caught + " corrupt pieces were caught");
        assertTrue(victim.progress().piecesDone() < m.pieceCount(), "the corrupt copy alone does not complete the fetch");
        open.keep(engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host())));
        victim.awaitCompletion(WAIT);
        assertIdentical("victim");
    }

    /**
     * Starts the only source of corrupt pieces at first: it trusts its data and serves it as it is.
     * A ttorrent seed does (seed mode skips hashing); a libtorrent seed hashes each piece before it
     * serves it and would send nothing bad, so against libtorrent the liar is aria2, told to seed
     * without checking ({@code --bt-seed-unverified}).
     */
    private void startLiar(Path badParent) throws IOException {
        if (!"libtorrent".equals(engine.name())) {
            open.keep(engine.seed(m, badParent, SessionOptions.on(SwarmFixture.host())));
            return;
        }
        Path torrent = Files.write(tmp.resolve("liar.torrent"), m.encoded());
        Process aria2 = new ProcessBuilder("aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                "--enable-peer-exchange=false", "--listen-port=" + SwarmFixture.freePort(), "--bt-tracker-interval=1",
                "--console-log-level=warn", "--summary-interval=0", "--file-allocation=none", "--bt-require-crypto=false",
                "--disable-ipv6=true", "--dir=" + badParent, "--seed-ratio=0.0", "--check-integrity=false",
                "--bt-seed-unverified=true", torrent.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("aria2.log").toFile()).start();
        open.keep(() -> {
            aria2.destroy();
            aria2.waitFor();
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.cowherd.distribution.torrent.SwarmFixture#engines")
    void aSeedRestartedMidTransferIsFoundAgain(String engineName) throws Exception {
        start(engineName);
        InetAddress seedHost = SwarmFixture.host();
        TorrentSession seed = open.keep(engine.seed(m, data.getParent(),
                SwarmFixture.uploadLimited(engine, SessionOptions.on(seedHost), 2L << 20)));
        TorrentSession peer = fetcher("peer");
        waitFor(() -> peer.progress().piecesDone() >= 4, "the peer holds a few pieces");
        seed.close();
        int held = peer.progress().piecesDone();
        assertTrue(held < m.pieceCount(), "the seed was stopped mid-transfer");
        open.keep(engine.seed(m, data.getParent(), SessionOptions.on(seedHost)));
        peer.awaitCompletion(WAIT);
        assertIdentical("peer");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.cowherd.distribution.torrent.SwarmFixture#engines")
    void aFetchResumesFromVerifiedPiecesOnDisk(String engineName) throws Exception {
        start(engineName);
        // an interrupted fetch left the first half right and the rest zero in the .part file
        Path part = tmp.resolve("resume/" + m.name() + ".part");
        Files.createDirectories(part.getParent());
        try (FileChannel in = FileChannel.open(data); FileChannel out = FileChannel.open(part,
                StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            in.transferTo(0, SIZE / 2, out);
            out.write(ByteBuffer.allocate(1), SIZE - 1);
        }
        open.keep(engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host())));
        TorrentSession s = fetcher("resume");
        s.awaitCompletion(WAIT);
        assertIdentical("resume");
        assertTrue(s.progress().downloaded() <= SIZE / 2 + (1 << 20),
                "only the missing half was downloaded, got " + s.progress().downloaded());
    }
}
