package io.cowherd.benchmarks;

import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The embedded tracker (cowherd's, on ttorrent's HTTP tracker with the locality answer) under a
 * fleet's announces, against opentracker, the C tracker Debian ships, in one run on loopback.
 * Simulated hosts (distinct peer ids and {@code ip=} addresses in 10.0.0.0/8, so the tracker
 * keeps them all) announce one torrent over and over, each announce on its own connection as
 * BitTorrent clients do (HTTP/1.0); CLIENTS threads keep announcing for SECONDS. Prints
 * announces per second, p50 and p99 latency, and failed announces; ratios are cowherd / opentracker.
 * opentracker runs as shipped (its defaults are its best settings: no tuning knobs for this).
 * Usage: {@code TrackerVersusOpentracker [HOSTS=5000] [CLIENTS=16] [SECONDS=10]}.
 */
public final class TrackerVersusOpentracker {
    private TrackerVersusOpentracker() {
    }

    /** One tracker's figures. */
    record Result(double perSecond, double p50Millis, double p99Millis, long failed) {
    }

    public static void main(String[] args) throws Exception {
        int hosts = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
        int clients = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        Path dir = Files.createTempDirectory("cowherd-tracker-bench");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // opentracker runs as nobody
        Path data = Files.write(dir.resolve("golden.raw"), new byte[1 << 20]);
        Metainfo m = Metainfo.create(data, List.of(), 0, "bench");
        System.out.printf(Locale.ROOT, "tracker benchmark: %d simulated hosts, %d clients, %d s each, loopback%n", hosts,
                clients, seconds);

        int ourPort = freePort();
        Result ours;
        try (EmbeddedTracker t = EmbeddedTracker.start(new InetSocketAddress("127.0.0.1", ourPort))) {
            t.track(m);
            ours = load(ourPort, m, hosts, clients, seconds);
        }
        print("cowherd (embedded)", ours);

        int otPort = freePort();
        Path whitelist = Files.writeString(dir.resolve("whitelist"), m.infoHashHex() + "\n");
        Path conf = Files.writeString(dir.resolve("opentracker.conf"), "access.whitelist " + whitelist + "\n");
        Process ot = new ProcessBuilder("opentracker", "-i", "127.0.0.1", "-p", Integer.toString(otPort), "-P",
                Integer.toString(otPort), "-f", conf.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("opentracker.log").toFile()).start();
        Result theirs;
        try {
            waitForPort(otPort);
            theirs = load(otPort, m, hosts, clients, seconds);
        } finally {
            ot.destroy();
            ot.waitFor(10, TimeUnit.SECONDS);
        }
        print("opentracker", theirs);
        System.out.printf(Locale.ROOT, "ratio announces/s cowherd / opentracker: %.2f; p99 latency cowherd / opentracker: %.2f%n",
                ours.perSecond() / theirs.perSecond(), ours.p99Millis() / theirs.p99Millis());
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    private static void print(String who, Result r) {
        System.out.printf(Locale.ROOT, "%-20s %9.0f announces/s  p50 %.2f ms  p99 %.2f ms  failed %d%n", who,
                r.perSecond(), r.p50Millis(), r.p99Millis(), r.failed());
    }

    /** CLIENTS threads announce as HOSTS hosts in turn: a warm-up second, then SECONDS measured. */
    private static Result load(int port, Metainfo m, int hosts, int clients, int seconds) throws Exception {
        String hash = urlEncode(m.infoHash());
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        AtomicLong next = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        long warmEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        long end = warmEnd + TimeUnit.SECONDS.toNanos(seconds);
        List<Future<long[]>> work = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            work.add(pool.submit(() -> {
                long[] lat = new long[1 << 16];
                int n = 0;
                while (true) {
                    long start = System.nanoTime();
                    if (start >= end) {
                        break;
                    }
                    int host = (int) (next.getAndIncrement() % hosts);
                    boolean ok = announce(port, hash, host, m.totalSize());
                    long took = System.nanoTime() - start;
                    if (start >= warmEnd) {
                        if (!ok) {
                            failed.incrementAndGet();
                        }
                        if (n == lat.length) {
                            lat = Arrays.copyOf(lat, n * 2);
                        }
                        lat[n++] = took;
                    }
                }
                return Arrays.copyOf(lat, n);
            }));
        }
        List<Long> all = new ArrayList<>();
        for (Future<long[]> f : work) {
            for (long l : f.get()) {
                all.add(l);
            }
        }
        pool.shutdown();
        long[] sorted = all.stream().mapToLong(Long::longValue).sorted().toArray();
        if (sorted.length == 0) {
            return new Result(0, Double.NaN, Double.NaN, failed.get());
        }
        return new Result(sorted.length / (double) seconds, sorted[sorted.length / 2] / 1e6,
                sorted[(int) (sorted.length * 0.99)] / 1e6, failed.get());
    }

    /** One announce of host {@code host} on a connection of its own; whether a peer list came back. */
    private static boolean announce(int port, String hash, int host, long left) {
        String ip = "10." + (host >> 16 & 255) + "." + (host >> 8 & 255) + "." + (host & 255);
        String peerId = urlEncode(String.format(Locale.ROOT, "-CB0001-%012d", host).getBytes(StandardCharsets.US_ASCII));
        String request = "GET /announce?info_hash=" + hash + "&peer_id=" + peerId + "&port=6881&uploaded=0&downloaded=0&left="
                + left + "&compact=1&numwant=50&ip=" + ip + " HTTP/1.0\r\nHost: 127.0.0.1:" + port + "\r\n\r\n";
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String reply = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            return reply.startsWith("HTTP/1.") && reply.contains(" 200 ") && reply.contains("5:peers");
        } catch (IOException e) {
            return false;
        }
    }

    private static String urlEncode(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (byte b : bytes) {
            sb.append('%').append(String.format(Locale.ROOT, "%02x", b & 0xff));
        }
        return sb.toString();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void waitForPort(int port) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException e) {
                Thread.sleep(50);
            }
        }
        throw new IllegalStateException("opentracker did not listen on port " + port);
    }
}
