package io.cowherd.distribution.torrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cowherd.distribution.internal.Bencode;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Against real peers (scripts/install-test-peers.sh installs them): aria2 fetches what cowherd
 * seeds, cowherd fetches what aria2 seeds, and opentracker is the tracker; cowherd also fetches,
 * on both engines, single- and multi-file torrents that mktorrent made. Loopback only; aria2 runs
 * with DHT, local peer discovery and peer exchange off.
 */
@Timeout(120)
class PeerInteropTest {
    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();
    private final List<Process> procs = new ArrayList<>();

    @AfterEach
    void stop() {
        procs.forEach(p -> p.descendants().forEach(ProcessHandle::destroy));
        procs.forEach(Process::destroy);
    }

    private static boolean has(String tool) {
        return Files.isExecutable(Path.of("/usr/bin", tool));
    }

    private Process start(Path log, String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        procs.add(p);
        return p;
    }

    private List<String> aria2(int port, String... more) {
        List<String> c = new ArrayList<>(List.of("aria2c", "--enable-dht=false", "--enable-dht6=false",
                "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--listen-port=" + port,
                "--bt-tracker-interval=1", "--console-log-level=warn", "--summary-interval=0", "--file-allocation=none",
                "--check-certificate=false", "--bt-require-crypto=false", "--disable-ipv6=true",
                "--log=" + tmp.resolve("aria2-" + port + ".debug.log"), "--log-level=info"));
        c.addAll(List.of(more));
        return c;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.cowherd.distribution.torrent.SwarmFixture#engines")
    void aria2FetchesWhatCowherdSeeds(String engineName) throws Exception {
        assumeTrue(has("aria2c"), "aria2c is not installed (scripts/install-test-peers.sh)");
        TorrentEngine engine = SwarmFixture.engine(engineName);
        EmbeddedTracker tracker = EmbeddedTracker.start(SwarmFixture.trackerAddress());
        open.keep(tracker);
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/dir/disk.raw"), 6L << 20, 3);
        Files.writeString(tmp.resolve("seed/dir/domain.xml"), "<domain/>");
        Metainfo m = Metainfo.create(data.getParent(), List.of(tracker.announceUrl()), 0, "t");
        tracker.track(m);
        Path torrent = tmp.resolve("dir.torrent");
        m.save(torrent);
        open.keep(engine.seed(m, tmp.resolve("seed"), SessionOptions.on(InetAddress.getLoopbackAddress())));
        Path out = Files.createDirectories(tmp.resolve("aria"));
        List<String> cmd = aria2(SwarmFixture.freePort(), "--dir=" + out, "--seed-time=0", torrent.toString());
        Process p = start(tmp.resolve("aria2.log"), cmd.toArray(String[]::new));
        assertTrue(p.waitFor(90, TimeUnit.SECONDS), "aria2 finished");
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("aria2.log")));
        assertTrue(SwarmFixture.sameBytes(data, out.resolve("dir/disk.raw")));
        assertEquals("<domain/>", Files.readString(out.resolve("dir/domain.xml")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.cowherd.distribution.torrent.SwarmFixture#engines")
    void cowherdFetchesWhatAria2SeedsThroughOpentracker(String engineName) throws Exception {
        assumeTrue(has("aria2c") && has("opentracker"), "aria2c or opentracker is not installed (scripts/install-test-peers.sh)");
        TorrentEngine engine = SwarmFixture.engine(engineName);
        int trackerPort = SwarmFixture.freePort();
        Path data = SwarmFixture.randomFile(tmp.resolve("aria/golden.raw"), 6L << 20, 5);
        java.net.URI announce = java.net.URI.create("http://127.0.0.1:" + trackerPort + "/announce");
        Metainfo m = Metainfo.create(data, List.of(announce), 0, "t");
        Path torrent = tmp.resolve("golden.torrent");
        m.save(torrent);
        startOpentracker(trackerPort, m);
        List<String> cmd = aria2(SwarmFixture.freePort(), "--dir=" + data.getParent(), "--seed-ratio=0.0",
                "--seed-time=5", "--check-integrity=true", "--bt-seed-unverified=false", torrent.toString());
        start(tmp.resolve("aria2.log"), cmd.toArray(String[]::new));
        TorrentSession s = engine.fetch(m, tmp.resolve("cow"), SessionOptions.on(InetAddress.getLoopbackAddress())
                .withNoPeerTimeout(Duration.ofSeconds(60)));
        open.keep(s);
        s.awaitCompletion(Duration.ofSeconds(90));
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("cow/golden.raw")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.cowherd.distribution.torrent.SwarmFixture#engines")
    void cowherdFetchesASingleFileTorrentMadeByMktorrent(String engineName) throws Exception {
        assumeTrue(has("aria2c") && has("opentracker") && has("mktorrent"),
                "aria2c, opentracker or mktorrent is not installed (scripts/install-test-peers.sh)");
        long size = (3L << 20) + 12_345;
        Path data = SwarmFixture.randomFile(tmp.resolve("aria/golden.raw"), size, 11);
        int trackerPort = SwarmFixture.freePort();
        Path torrent = mktorrent(data, trackerPort, "-l", "18");
        Metainfo m = Metainfo.read(torrent);
        assertFalse(m.isMultiFile());
        assertEquals(List.of(new Metainfo.FileEntry(List.of("golden.raw"), size, 0)), m.files());
        assertEquals(256 << 10, m.pieceLength());
        fetchWhatAria2Seeds(engineName, m, torrent, trackerPort, data.getParent());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("io.cowherd.distribution.torrent.SwarmFixture#engines")
    void cowherdFetchesAMultiFileTorrentMadeByMktorrent(String engineName) throws Exception {
        assumeTrue(has("aria2c") && has("opentracker") && has("mktorrent"),
                "aria2c, opentracker or mktorrent is not installed (scripts/install-test-peers.sh)");
        Path top = tmp.resolve("aria/golden");
        SwarmFixture.randomFile(top.resolve("disk.raw"), (2L << 20) + 4_097, 12);
        Files.writeString(top.resolve("domain.xml"), "<domain><name>golden</name></domain>\n");
        Files.createFile(top.resolve("empty.log"));
        randomBytes(top.resolve("nvram/deeper/VARS.fd"), 70_001, 13);
        randomBytes(top.resolve("nvram/one-byte"), 1, 14);
        int trackerPort = SwarmFixture.freePort();
        // 64 KiB pieces, so that pieces span file boundaries; private flag, comment and source:
        // fields cowherd never writes
        Path torrent = mktorrent(top, trackerPort, "-l", "16", "-p", "-c", "golden master, made by mktorrent",
                "-s", "cowherd-test");
        Metainfo m = Metainfo.read(torrent);
        assertTrue(m.isMultiFile());
        assertEquals("golden", m.name());
        assertEquals(64 << 10, m.pieceLength());
        Map<String, Long> listed = new TreeMap<>();
        m.files().forEach(f -> listed.put(String.join("/", f.path()), f.length()));
        assertEquals(Map.of("disk.raw", (2L << 20) + 4_097, "domain.xml", 37L, "empty.log", 0L,
                "nvram/deeper/VARS.fd", 70_001L, "nvram/one-byte", 1L), listed, "mktorrent lists every file, the empty one too");
        Map<String, Bencode.Value> root = Bencode.decode(Files.readAllBytes(torrent)).dict();
        assertTrue(root.get("created by").string().startsWith("mktorrent"), root.get("created by").string());
        assertTrue(root.get("creation date").isNumber());
        assertEquals("golden master, made by mktorrent", root.get("comment").string());
        assertEquals(1, root.get("info").dict().get("private").number());
        assertEquals("cowherd-test", root.get("info").dict().get("source").string());
        fetchWhatAria2Seeds(engineName, m, torrent, trackerPort, top.getParent());
    }

    /** Runs mktorrent on {@code content} with opentracker on {@code trackerPort} as the announce URL. */
    private Path mktorrent(Path content, int trackerPort, String... options) throws Exception {
        Path torrent = tmp.resolve(content.getFileName() + ".torrent");
        List<String> cmd = new ArrayList<>(List.of("mktorrent", "-a", "http://127.0.0.1:" + trackerPort + "/announce",
                "-o", torrent.toString()));
        cmd.addAll(List.of(options));
        cmd.add(content.toString());
        Path log = tmp.resolve("mktorrent.log");
        Process p = start(log, cmd.toArray(String[]::new));
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "mktorrent finished");
        assertEquals(0, p.exitValue(), Files.readString(log));
        return torrent;
    }

    /**
     * aria2 seeds the files under {@code seedParent} (trusting them: mktorrent has just hashed
     * them) through opentracker; once opentracker counts it as a seeder, cowherd fetches with
     * {@code engineName}, and every file must arrive byte-identical.
     */
    private void fetchWhatAria2Seeds(String engineName, Metainfo m, Path torrent, int trackerPort, Path seedParent)
            throws Exception {
        startOpentracker(trackerPort, m);
        List<String> cmd = aria2(SwarmFixture.freePort(), "--dir=" + seedParent, "--seed-ratio=0.0",
                "--check-integrity=false", "--bt-seed-unverified=true", torrent.toString());
        start(tmp.resolve("aria2.log"), cmd.toArray(String[]::new));
        awaitSeeder(trackerPort, m);
        Path into = tmp.resolve("cow");
        TorrentSession s = SwarmFixture.engine(engineName).fetch(m, into,
                SessionOptions.on(SwarmFixture.host()).withNoPeerTimeout(Duration.ofSeconds(60)));
        open.keep(s);
        s.awaitCompletion(Duration.ofSeconds(90));
        List<Path> want = m.resolveIn(seedParent);
        List<Path> got = m.resolveIn(into);
        for (int i = 0; i < want.size(); i++) {
            assertTrue(SwarmFixture.sameBytes(want.get(i), got.get(i)), got.get(i) + " differs from " + want.get(i));
        }
        assertEquals(0, s.progress().hashFailures());
    }

    /**
     * Starts opentracker on 127.0.0.1:{@code port} tracking {@code m}. Debian's opentracker tracks
     * only whitelisted info hashes; it reads the list after dropping its privileges, so the list
     * must be world-readable (JUnit's temporary directory is not).
     */
    private void startOpentracker(int port, Metainfo m) throws Exception {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path whitelist = Files.writeString(tmp.resolve("whitelist"), m.infoHashHex() + "\n");
        Path conf = Files.writeString(tmp.resolve("opentracker.conf"), "access.whitelist " + whitelist + "\n");
        start(tmp.resolve("opentracker.log"), "opentracker", "-i", "127.0.0.1", "-p", Integer.toString(port),
                "-P", Integer.toString(port), "-f", conf.toString());
        waitForPort(port);
    }

    /** Waits until opentracker's scrape counts a seeder of {@code m}. */
    private static void awaitSeeder(int trackerPort, Metainfo m) throws Exception {
        StringBuilder hash = new StringBuilder();
        for (byte b : m.infoHash()) {
            hash.append('%').append(String.format("%02x", b & 0xff));
        }
        HttpRequest scrape = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + trackerPort + "/scrape?info_hash=" + hash))
                .timeout(Duration.ofSeconds(5)).build();
        HttpClient http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            byte[] body = http.send(scrape, HttpResponse.BodyHandlers.ofByteArray()).body();
            for (Bencode.Value counts : Bencode.decode(body).dict().get("files").dict().values()) {
                if (counts.dict().get("complete").number() > 0) {
                    return;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("aria2 did not announce itself as a seeder to opentracker within 30 s");
    }

    private static Path randomBytes(Path p, int size, long seed) throws IOException {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        Files.createDirectories(p.getParent());
        return Files.write(p, b);
    }

    private static void waitForPort(int port) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return;
            } catch (IOException e) {
                Thread.sleep(50);
            }
        }
        throw new AssertionError("opentracker did not start on port " + port);
    }
}
