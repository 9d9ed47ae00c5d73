package io.cowherd.distribution.torrent;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

/** Helpers for in-JVM swarms on loopback: one 127.0.0.x address per session (ttorrent listens on the first free port from 49152 of its address). */
public final class SwarmFixture {
    private static int nextHost = 10 + new Random().nextInt(100) * 2;

    private SwarmFixture() {
    }

    /**
     * The engines tests run on: every engine on the class path ({@link TorrentEngines#known()}), for
     * {@code @MethodSource("io.cowherd.distribution.torrent.SwarmFixture#engines")}. A test suite
     * with fewer than two engines would test less than it claims: refused.
     */
    public static java.util.stream.Stream<String> engines() {
        java.util.List<String> known = TorrentEngines.known();
        if (known.size() < 2 || !known.equals(TorrentEngines.available())) {
            throw new IllegalStateException("the tests run on libtorrent and ttorrent; engines found: " + known
                    + ", usable: " + TorrentEngines.available());
        }
        return known.stream();
    }

    /**
     * The engine of that name. The system property {@code cowherd.test.engines} (comma-separated
     * names) skips tests of other engines: the fault soak ({@code benchmarks/soak/run-fault-soak.sh})
     * runs one engine at a time.
     */
    public static TorrentEngine engine(String name) {
        String only = System.getProperty("cowherd.test.engines", "");
        org.junit.jupiter.api.Assumptions.assumeTrue(only.isBlank() || java.util.List.of(only.split(",")).contains(name),
                () -> "engine " + name + " not in cowherd.test.engines=" + only);
        return TorrentEngines.named(name);
    }

    /**
     * {@code o} with an upload limit the engine can apply: for the session if it can
     * ({@link EngineFeature#SESSION_RATE_LIMITS}), else for each peer connection. For tests that
     * only need a transfer slow enough to interrupt.
     */
    public static SessionOptions uploadLimited(TorrentEngine engine, SessionOptions o, long bytesPerSecond) {
        return engine.features().contains(EngineFeature.SESSION_RATE_LIMITS) ? o.withRateLimits(0, bytesPerSecond)
                : o.withPeerRateLimits(0, bytesPerSecond);
    }

    /** A fresh loopback address for one session. */
    public static synchronized InetAddress host() {
        try {
            return InetAddress.getByName("127.0.1." + (nextHost++ % 250 + 2));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A free TCP port on 127.0.0.1. */
    /** Where {@link #freePort} looks next: below the kernel's ephemeral range (32768-60999 here). */
    private static int nextPort = 20000 + new Random().nextInt(6000) * 2;

    /**
     * A port another process (aria2, opentracker) can listen on. Not the kernel's pick of port 0:
     * that is an ephemeral port, which any outgoing connection may take before the process binds
     * it (aria2 once failed with "Address already in use"). Ports below the ephemeral range are
     * only ever taken by a listener, so one free now stays free.
     */
    public static synchronized int freePort() throws IOException {
        for (int tries = 0; tries < 1000; tries++) {
            int port = nextPort++;
            if (nextPort >= 32000) {
                nextPort = 20000;
            }
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(port)); // all addresses, as aria2 binds
                return port;
            } catch (IOException taken) {
                // a listener has it: the next one
            }
        }
        throw new IOException("no free port between 20000 and 32000");
    }

    public static InetSocketAddress trackerAddress() throws IOException {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), freePort());
    }

    /** A file of {@code size} pseudo-random bytes (seeded), with a hole in the middle. */
    public static Path randomFile(Path p, long size, long seed) throws IOException {
        Files.createDirectories(p.getParent());
        Random r = new Random(seed);
        byte[] buf = new byte[1 << 20];
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long pos = 0; pos < size; pos += buf.length) {
                int n = (int) Math.min(buf.length, size - pos);
                if (pos / buf.length % 3 == 1) {
                    continue; // leave a hole: zeros
                }
                r.nextBytes(buf);
                ch.write(ByteBuffer.wrap(buf, 0, n), pos);
            }
            ch.truncate(size);
            if (ch.size() < size) {
                ch.write(ByteBuffer.allocate(1), size - 1);
            }
        }
        return p;
    }

    public static boolean sameBytes(Path a, Path b) throws IOException {
        return Files.mismatch(a, b) == -1;
    }
}
