package io.cowherd.distribution.torrent.seeder;

import io.cowherd.distribution.internal.Bencode;
import io.cowherd.distribution.torrent.Metainfo;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Announces a seed to a torrent's HTTP trackers (BEP 3 announce, compact answers) for
 * {@link InitialSeeder}, which has no engine of its own to do it (the engines' announce clients
 * work only inside their own sessions): {@code started} at once,
 * again at the interval each tracker asks for (5 s to 5 min), {@code stopped} when closed. The seed
 * wants no peers from the trackers (peers connect to it); a tracker that cannot be reached is
 * retried at the next interval.
 */
final class TrackerAnnouncer {
    private static final Logger LOG = LoggerFactory.getLogger(TrackerAnnouncer.class);
    private static final int MAX_ANSWER = 64 << 10;

    private final Metainfo metainfo;
    private final byte[] peerId;
    private final InetSocketAddress self;
    private final LongSupplier uploaded;
    private final ScheduledExecutorService timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "cowherd-announcer");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean stopped;

    TrackerAnnouncer(Metainfo metainfo, byte[] peerId, InetSocketAddress self, LongSupplier uploaded) {
        this.metainfo = metainfo;
        this.peerId = peerId.clone();
        this.self = self;
        this.uploaded = uploaded;
    }

    /** Whether this announcer can use the tracker {@code u} (HTTP or HTTPS). */
    static boolean speaks(URI u) {
        return "http".equals(u.getScheme()) || "https".equals(u.getScheme());
    }

    /**
     * Announces {@code started} now (before returning, so peers that ask next find the seed), then
     * on schedule on a thread of its own (a tracker that does not answer holds up nothing else).
     */
    void start() {
        long interval = announceAll("started");
        schedule(interval);
    }

    private void schedule(long seconds) {
        if (!stopped) {
            timer.schedule(() -> schedule(announceAll(null)), seconds, TimeUnit.SECONDS);
        }
    }

    /** Announces {@code stopped} (briefly: the seed is going away anyway). */
    void stop() {
        stopped = true;
        timer.shutdownNow();
        announceAll("stopped");
    }

    /** Announces to every HTTP tracker; returns the shortest interval they asked for. */
    private long announceAll(String event) {
        long interval = 300;
        for (URI tracker : metainfo.trackers()) {
            if (!speaks(tracker)) {
                continue;
            }
            try {
                interval = Math.min(interval, announce(tracker, event));
            } catch (IOException | RuntimeException e) {
                interval = Math.min(interval, 10);
                LOG.warn("announcing {} to {}: {}", metainfo.name(), tracker, e.toString());
            }
        }
        return Math.max(5, interval);
    }

    private long announce(URI tracker, String event) throws IOException {
        String url = tracker + (tracker.getRawQuery() == null ? "?" : "&") + "info_hash=" + escape(metainfo.infoHash())
                + "&peer_id=" + escape(peerId) + "&port=" + self.getPort() + "&uploaded=" + uploaded.getAsLong()
                + "&downloaded=0&left=0&compact=1&numwant=0&ip=" + self.getAddress().getHostAddress()
                + (event == null ? "" : "&event=" + event);
        HttpURLConnection http = (HttpURLConnection) URI.create(url).toURL().openConnection();
        http.setConnectTimeout(5000);
        http.setReadTimeout(5000);
        try (InputStream in = http.getInputStream()) {
            byte[] answer = in.readNBytes(MAX_ANSWER + 1);
            if (answer.length > MAX_ANSWER) {
                throw new IOException("answer longer than " + MAX_ANSWER + " bytes");
            }
            if ("stopped".equals(event)) {
                return 0;
            }
            Map<String, Bencode.Value> d = Bencode.decode(answer).dict();
            Bencode.Value failure = d.get("failure reason");
            if (failure != null && failure.isBytes()) {
                throw new IOException("the tracker refused: " + failure.string());
            }
            Bencode.Value interval = d.get("interval");
            LOG.debug("announced {} to {}", metainfo.name(), tracker);
            return interval != null && interval.isNumber() ? interval.number() : 60;
        } finally {
            http.disconnect();
        }
    }

    /** URL-encodes raw bytes (every byte but unreserved ASCII as %XX), as trackers expect info hashes. */
    static String escape(byte[] raw) {
        StringBuilder b = new StringBuilder();
        for (byte x : raw) {
            int c = x & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
                    || c == '~') {
                b.append((char) c);
            } else {
                b.append('%').append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
            }
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return "announcer of " + metainfo.name() + " as " + self + " (" + new String(peerId, 0, 8, StandardCharsets.US_ASCII) + ")";
    }
}
