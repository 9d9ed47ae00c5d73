package io.cowherd.distribution.torrent.tracker;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.cowherd.distribution.internal.Addresses;
import io.cowherd.distribution.internal.Bencode;
import io.cowherd.distribution.torrent.Metainfo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded tracker of every engine ({@code cowherd tracker}, {@code --embedded-tracker}): a
 * BitTorrent HTTP tracker (BEP 3, compact answers of BEP 23, {@code peers6} of BEP 7, scrape) on
 * the JDK's own HTTP server, that answers by locality ({@link TrackedSwarm}: the asker's rack and
 * only a few peers of other racks) and tracks only the torrents it is told of: an unknown info hash
 * gets a failure reason; without locality it answers a random few peers. No engine's internals: the ttorrent tracker it replaces served about 1,500
 * announces a second at 5,000 hosts (TrackerVersusOpentracker).
 */
public final class EmbeddedTracker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedTracker.class);
    /** Seconds between a client's announces, as the ttorrent tracker before it asked. */
    static final int INTERVAL_SECONDS = 10;
    /** Most peers one answer holds, whatever a client's {@code numwant}. */
    static final int MAX_ANSWER = 200;
    /**
     * Literal addresses only: a dotted quad of octets, or anything with a colon (the JDK parses
     * that as an IPv6 literal or refuses it). Anything else, "999.1.1.1" included, the JDK would
     * look up in the DNS, which network input must never make the tracker do.
     */
    private static final Pattern LITERAL_IP = Pattern.compile(
            "((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
                    + "|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");

    private final HttpServer server;
    private final ExecutorService workers;
    private final ScheduledExecutorService janitor;
    private final URI url;
    private final Map<String, TrackedSwarm> swarms = new ConcurrentHashMap<>();
    private final boolean locality;

    private EmbeddedTracker(HttpServer server, ExecutorService workers, ScheduledExecutorService janitor, URI url,
            boolean locality) {
        this.server = server;
        this.workers = workers;
        this.janitor = janitor;
        this.url = url;
        this.locality = locality;
    }

    /**
     * Starts a tracker on {@code address} (port 0: any free port, which {@link #announceUrl()} names),
     * answering by locality (rack-aware).
     */
    public static EmbeddedTracker start(InetSocketAddress address) {
        return start(address, true);
    }

    /** Starts a tracker on {@code address}; {@code locality} false: answers are random peers, not rack-aware. */
    public static EmbeddedTracker start(InetSocketAddress address, boolean locality) {
        HttpServer server;
        try {
            server = HttpServer.create(address, 1024);
        } catch (IOException e) {
            throw new io.cowherd.CowException("cannot listen on " + address + " for the tracker: " + e.getMessage(), e);
        }
        ExecutorService workers = Executors.newFixedThreadPool(Math.max(2, 2 * Runtime.getRuntime().availableProcessors()),
                daemon("cowherd-tracker"));
        ScheduledExecutorService janitor = Executors.newSingleThreadScheduledExecutor(daemon("cowherd-tracker-expiry"));
        InetSocketAddress bound = server.getAddress();
        InetSocketAddress shown = new InetSocketAddress(address.getAddress(), bound.getPort());
        EmbeddedTracker t = new EmbeddedTracker(server, workers, janitor,
                URI.create("http://" + Addresses.hostForUrl(shown) + ":" + bound.getPort() + "/announce"), locality);
        server.createContext("/announce", t::announce);
        server.createContext("/scrape", t::scrape);
        server.setExecutor(workers);
        server.start();
        janitor.scheduleWithFixedDelay(() -> t.swarms.values().forEach(s -> s.expire(System.nanoTime())),
                INTERVAL_SECONDS, INTERVAL_SECONDS, TimeUnit.SECONDS);
        LOG.info("tracker listening at {} ({})", t.url, locality ? "rack-aware: the asker's rack, a few others" : "random peers, no locality");
        return t;
    }

    /** Its announce URL ({@code http://HOST:PORT/announce}). */
    public URI announceUrl() {
        return url;
    }

    /** Lets the tracker track {@code metainfo}: it answers only for torrents it was told of. */
    public void track(Metainfo metainfo) {
        swarms.putIfAbsent(key(metainfo.infoHash()), new TrackedSwarm(locality));
    }

    /** Stops the tracker. */
    @Override
    public void close() {
        server.stop(0);
        workers.shutdownNow();
        janitor.shutdownNow();
    }

    private void announce(HttpExchange x) throws IOException {
        Map<String, Object> reply = new LinkedHashMap<>();
        try {
            Map<String, byte[]> q = query(x.getRequestURI().getRawQuery());
            byte[] hash = exactly(q, "info_hash", 20);
            byte[] peerId = exactly(q, "peer_id", 20);
            int port = number(q, "port", -1);
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port must be 1-65535");
            }
            TrackedSwarm swarm = swarms.get(key(hash));
            if (swarm == null) {
                throw new IllegalArgumentException("torrent not tracked here (the tracker tracks the torrents it was given)");
            }
            byte[] ip = peerAddress(q, x).getAddress();
            String event = text(q, "event");
            long now = System.nanoTime();
            boolean seed = number(q, "left", 1) == 0 || "completed".equals(event);
            swarm.announce(peerId, ip, port, seed, "stopped".equals(event), now);
            int want = Math.min(MAX_ANSWER, Math.max(0, number(q, "numwant", TrackedSwarm.ANSWER_PEERS)));
            List<TrackedSwarm.Peer> peers = swarm.nearest(peerId, ip, want, now);
            long[] counts = swarm.counts(now);
            reply.put("interval", (long) INTERVAL_SECONDS);
            reply.put("complete", counts[0]);
            reply.put("incomplete", counts[1]);
            if (!"0".equals(text(q, "compact"))) {
                ByteArrayOutputStream v4 = new ByteArrayOutputStream();
                ByteArrayOutputStream v6 = new ByteArrayOutputStream();
                for (TrackedSwarm.Peer p : peers) {
                    ByteArrayOutputStream out = p.ip().length == 4 ? v4 : v6;
                    out.writeBytes(p.ip());
                    out.write(p.port() >> 8);
                    out.write(p.port() & 0xff);
                }
                reply.put("peers", v4.toByteArray());
                if (v6.size() > 0) {
                    reply.put("peers6", v6.toByteArray());
                }
            } else {
                List<Object> list = new ArrayList<>();
                for (TrackedSwarm.Peer p : peers) {
                    Map<String, Object> d = new HashMap<>();
                    d.put("peer id", p.peerId());
                    d.put("ip", InetAddress.getByAddress(p.ip()).getHostAddress());
                    d.put("port", (long) p.port());
                    list.add(d);
                }
                reply.put("peers", list);
            }
        } catch (IllegalArgumentException e) {
            reply.clear();
            reply.put("failure reason", e.getMessage());
        }
        send(x, Bencode.encode(reply));
    }

    private void scrape(HttpExchange x) throws IOException {
        Map<Object, Object> files = new HashMap<>();
        long now = System.nanoTime();
        for (Map.Entry<String, TrackedSwarm> e : swarms.entrySet()) {
            long[] c = e.getValue().counts(now);
            // The key is the info hash's 20 raw bytes.
            files.put(e.getKey().getBytes(StandardCharsets.ISO_8859_1),
                    Map.of("complete", c[0], "incomplete", c[1], "downloaded", 0L));
        }
        send(x, Bencode.encode(Map.of("files", files)));
    }

    /** The peer's address: a literal {@code ip=} when given (a host announcing another address), else the connection's. */
    private static InetAddress peerAddress(Map<String, byte[]> q, HttpExchange x) {
        String ip = text(q, "ip");
        if (ip != null && LITERAL_IP.matcher(ip).matches()) {
            try {
                return InetAddress.getByName(ip);
            } catch (java.net.UnknownHostException e) {
                throw new IllegalArgumentException("ip '" + ip + "' is not an address");
            }
        }
        return x.getRemoteAddress().getAddress();
    }

    private static void send(HttpExchange x, byte[] body) throws IOException {
        x.getResponseHeaders().set("Content-Type", "text/plain");
        x.sendResponseHeaders(200, body.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(body);
        }
    }

    /** The raw query's parameters, percent-decoded to bytes (info hashes and peer ids are binary). */
    static Map<String, byte[]> query(String raw) {
        Map<String, byte[]> q = new HashMap<>();
        if (raw == null) {
            return q;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                // Decoding as ISO-8859-1 maps each %XX to one char, so its bytes are the raw ones.
                q.put(pair.substring(0, eq), java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.ISO_8859_1)
                        .getBytes(StandardCharsets.ISO_8859_1));
            }
        }
        return q;
    }

    private static byte[] exactly(Map<String, byte[]> q, String name, int length) {
        byte[] v = q.get(name);
        if (v == null || v.length != length) {
            throw new IllegalArgumentException(name + " must be " + length + " bytes");
        }
        return v;
    }

    private static String text(Map<String, byte[]> q, String name) {
        byte[] v = q.get(name);
        return v == null ? null : new String(v, StandardCharsets.ISO_8859_1);
    }

    private static int number(Map<String, byte[]> q, String name, int fallback) {
        String v = text(q, name);
        if (v == null) {
            return fallback;
        }
        try {
            long n = Long.parseLong(v);
            return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, n));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a number");
        }
    }

    private static String key(byte[] infoHash) {
        return new String(infoHash, StandardCharsets.ISO_8859_1);
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}
