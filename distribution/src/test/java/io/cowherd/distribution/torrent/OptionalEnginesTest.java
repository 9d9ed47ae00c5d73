package io.cowherd.distribution.torrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.UnsupportedFeatureException;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.io.File;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The engines are optional dependencies: a program with one engine's jars, or none, runs the
 * rest. Each case is a JVM started on this test's class path without some jars, as an embedding
 * program that left those dependencies out would be.
 */
@Timeout(120)
class OptionalEnginesTest {

    /** What the child JVM reports: the engines available, the refusal of the missing ones, a tracker that starts. */
    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder("available=" + TorrentEngines.available() + "\n");
        for (String name : TorrentEngines.known()) {
            try {
                out.append(name).append("=").append(TorrentEngines.named(name).name()).append('\n');
            } catch (UnsupportedFeatureException e) {
                out.append(name).append(" refused: ").append(e.getMessage()).append('\n');
            }
        }
        try (EmbeddedTracker t = EmbeddedTracker.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            out.append("tracker=").append(t.announceUrl().getPath()).append('\n');
        }
        System.out.print(out);
    }

    private static String runWithout(String... jarNameParts) throws Exception {
        // surefire runs tests from a manifest-only jar; it passes the real class path in this property
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> kept = Arrays.stream(classPath.split(File.pathSeparator))
                .filter(e -> Arrays.stream(jarNameParts).noneMatch(part -> Path.of(e).getFileName().toString().startsWith(part)))
                .collect(Collectors.toList());
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", String.join(File.pathSeparator, kept),
                OptionalEnginesTest.class.getName()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void withoutTtorrentLibtorrentRunsAndTtorrentIsRefusedByItsArtifact() throws Exception {
        String out = runWithout("ttorrent-core");
        assertTrue(out.contains("available=[libtorrent]"), out);
        assertTrue(out.contains("libtorrent=libtorrent"), out);
        assertTrue(out.contains("ttorrent refused: the ttorrent engine needs com.turn:ttorrent-core on the class path"), out);
        assertTrue(out.contains("tracker=/announce"), out);
    }

    @Test
    void withoutLibtorrent4jTtorrentRunsAndLibtorrentIsRefusedByItsArtifacts() throws Exception {
        String out = runWithout("libtorrent4j");
        assertTrue(out.contains("available=[ttorrent]"), out);
        assertTrue(out.contains("ttorrent=ttorrent"), out);
        assertTrue(out.contains("libtorrent refused: the libtorrent engine needs org.libtorrent4j:libtorrent4j and "
                + "org.libtorrent4j:libtorrent4j-linux on the class path"), out);
    }

    @Test
    void withNoEngineTheTrackerStillRuns() throws Exception {
        String out = runWithout("ttorrent-core", "libtorrent4j");
        assertTrue(out.contains("available=[]"), out);
        assertTrue(out.contains("engines that can run: none"), out);
        assertTrue(out.contains("tracker=/announce"), out);
    }
}
