package io.cowherd.distribution.torrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against real peers (scripts/install-test-peers.sh installs them): aria2 fetches what cowherd
 * seeds, cowherd fetches what aria2 seeds, and opentracker is the tracker. Loopback only; aria2
 * runs with DHT, local peer discovery and peer exchange off.
 */
@Timeout(120)
class PeerInteropTest {
    @TempDir
    Path tmp;

    private final TorrentEngine engine = new TtorrentEngine();
    private final List<AutoCloseable> open = new ArrayList<>();
    private final List<Process> procs = new ArrayList<>();

    @AfterEach
    void stop() {
        procs.forEach(p -> p.descendants().forEach(ProcessHandle::destroy));
        procs.forEach(Process::destroy);
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                // keep closing
            }
        }
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

    @Test
    void aria2FetchesWhatCowherdSeeds() throws Exception {
        assumeTrue(has("aria2c"), "aria2c is not installed (scripts/install-test-peers.sh)");
        TrackerHandle tracker = engine.startTracker(SwarmFixture.trackerAddress());
        open.add(tracker);
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/dir/disk.raw"), 6L << 20, 3);
        Files.writeString(tmp.resolve("seed/dir/domain.xml"), "<domain/>");
        Metainfo m = Metainfo.create(data.getParent(), List.of(tracker.announceUrl()), 0, "t");
        tracker.track(m);
        Path torrent = tmp.resolve("dir.torrent");
        m.save(torrent);
        open.add(engine.seed(m, tmp.resolve("seed"), SessionOptions.on(InetAddress.getLoopbackAddress())));
        Path out = Files.createDirectories(tmp.resolve("aria"));
        List<String> cmd = aria2(SwarmFixture.freePort(), "--dir=" + out, "--seed-time=0", torrent.toString());
        Process p = start(tmp.resolve("aria2.log"), cmd.toArray(String[]::new));
        assertTrue(p.waitFor(90, TimeUnit.SECONDS), "aria2 finished");
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("aria2.log")));
        assertTrue(SwarmFixture.sameBytes(data, out.resolve("dir/disk.raw")));
        assertEquals("<domain/>", Files.readString(out.resolve("dir/domain.xml")));
    }

    @Test
    void cowherdFetchesWhatAria2SeedsThroughOpentracker() throws Exception {
        assumeTrue(has("aria2c") && has("opentracker"), "aria2c or opentracker is not installed (scripts/install-test-peers.sh)");
        int trackerPort = SwarmFixture.freePort();
        Path data = SwarmFixture.randomFile(tmp.resolve("aria/golden.raw"), 6L << 20, 5);
        java.net.URI announce = java.net.URI.create("http://127.0.0.1:" + trackerPort + "/announce");
        Metainfo m = Metainfo.create(data, List.of(announce), 0, "t");
        Path torrent = tmp.resolve("golden.torrent");
        m.save(torrent);
        // Debian's opentracker tracks only whitelisted info hashes; it reads the list after dropping
        // its privileges, so the list must be world-readable (JUnit's temporary directory is not)
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path whitelist = Files.writeString(tmp.resolve("whitelist"), m.infoHashHex() + "\n");
        Path conf = Files.writeString(tmp.resolve("opentracker.conf"), "access.whitelist " + whitelist + "\n");
        start(tmp.resolve("opentracker.log"), "opentracker", "-i", "127.0.0.1", "-p", Integer.toString(trackerPort),
                "-P", Integer.toString(trackerPort), "-f", conf.toString());
        waitForPort(trackerPort);
        List<String> cmd = aria2(SwarmFixture.freePort(), "--dir=" + data.getParent(), "--seed-ratio=0.0",
                "--seed-time=5", "--check-integrity=true", "--bt-seed-unverified=false", torrent.toString());
        start(tmp.resolve("aria2.log"), cmd.toArray(String[]::new));
        TorrentSession s = engine.fetch(m, tmp.resolve("cow"), SessionOptions.on(InetAddress.getLoopbackAddress())
                .withNoPeerTimeout(Duration.ofSeconds(60)));
        open.add(s);
        s.awaitCompletion(Duration.ofSeconds(90));
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("cow/golden.raw")));
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
