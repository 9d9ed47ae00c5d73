package io.cowherd.cli;

import io.cowherd.distribution.torrent.EngineTuning;
import io.cowherd.distribution.torrent.ProgressListener;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentEngines;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** What the torrent commands share: the engine, addresses, the progress bar, waiting until stopped. */
final class TorrentCli {
    private TorrentCli() {
    }

    /** The engine options {@code seed} and {@code fetch} share. */
    static final class EngineOptions {
        @Option(names = "--engine", paramLabel = "NAME", defaultValue = TorrentEngines.DEFAULT, completionCandidates = EngineNames.class,
                description = "BitTorrent engine: libtorrent (default; native), or ttorrent (pure Java; no DHT, magnet links, "
                        + "HTTP origin or rate limits).")
        String engine;

        @Option(names = "--dht", description = "Join the DHT (libtorrent engine): find peers without a tracker. Only the "
                + "bootstrap nodes given are contacted, never public routers.")
        boolean dht;

        @Option(names = "--dht-bootstrap", paramLabel = "HOST:PORT", description = "A DHT node to join through, e.g. the "
                + "seed's (its peer address; the DHT uses the same port over UDP). Repeatable; implies --dht.")
        List<String> dhtBootstrap = new ArrayList<>();

        @Option(names = "--tune", paramLabel = "FIELD=VALUE", description = "Engine tuning for experiments (default: the "
                + "measured best, for fetch --serve its streaming variant; fields in docs/distribution.md), e.g. --tune "
                + "requestPipeline=32. Repeatable.")
        List<String> tune = new ArrayList<>();

        boolean dhtOn() {
            return dht || !dhtBootstrap.isEmpty();
        }

        /** The first bootstrap node, or null. */
        InetSocketAddress firstBootstrap() {
            return dhtBootstrap.isEmpty() ? null : hostPort(dhtBootstrap.get(0));
        }

        TorrentEngine engine() {
            return TorrentEngines.named(engine);
        }

        /**
         * Options of a fetch from {@code trackers} (a magnet link's or a torrent's): bound to
         * {@code bind}, else to the address that reaches the first tracker, or the first DHT node;
         * tuned as {@code base} with --tune on top.
         */
        SessionOptions forFetch(String bind, List<java.net.URI> trackers, EngineTuning base) {
            return apply(SessionOptions.on(!trackers.isEmpty() || firstBootstrap() == null
                    ? bindAddress(bind, trackers.isEmpty() ? null : trackers.get(0))
                    : bindAddress(bind, firstBootstrap())), base);
        }

        /** {@code o} with the DHT asked for, tuned as the measured best with --tune on top. */
        SessionOptions apply(SessionOptions o) {
            return apply(o, EngineTuning.DEFAULT);
        }

        /** {@code o} with the DHT asked for, tuned as {@code base} with --tune on top. */
        SessionOptions apply(SessionOptions o, EngineTuning base) {
            EngineTuning t = base;
            for (String kv : tune) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("--tune takes FIELD=VALUE, not '" + kv + "'");
                }
                t = t.with(kv.substring(0, eq), kv.substring(eq + 1));
            }
            List<InetSocketAddress> nodes = null;
            if (dhtOn()) {
                nodes = new ArrayList<>();
                for (String b : dhtBootstrap) {
                    nodes.add(hostPort(b));
                }
            }
            return o.withDht(nodes).withTuning(t);
        }
    }

    /** The engines on the class path, for shell completion. */
    static final class EngineNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return TorrentEngines.known().iterator();
        }
    }

    /** Parses {@code HOST:PORT} ({@code [v6]:PORT} too). */
    static InetSocketAddress hostPort(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("'" + text + "' is not HOST:PORT");
        }
        String host = text.substring(0, colon).replace("[", "").replace("]", "");
        try {
            return new InetSocketAddress(InetAddress.getByName(host), Integer.parseInt(text.substring(colon + 1)));
        } catch (UnknownHostException | NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not HOST:PORT (" + e.getMessage() + ")");
        }
    }

    /**
     * The address to listen on and announce: {@code bind} if given, else the local address this
     * host uses to reach the tracker (no packet is sent).
     */
    static InetAddress bindAddress(String bind, URI tracker) {
        return bindAddress(bind, tracker == null || tracker.getHost() == null ? null
                : InetSocketAddress.createUnresolved(tracker.getHost(), tracker.getPort() > 0 ? tracker.getPort() : 80));
    }

    /**
     * The address to listen on and announce: {@code bind} if given, else the local address this
     * host uses to reach {@code peer} (a tracker or a DHT node; no packet is sent).
     */
    static InetAddress bindAddress(String bind, InetSocketAddress peer) {
        try {
            if (bind != null) {
                return InetAddress.getByName(bind);
            }
            if (peer != null) {
                InetAddress t = peer.getAddress() != null ? peer.getAddress() : InetAddress.getByName(peer.getHostString());
                if (t.isLoopbackAddress()) {
                    return InetAddress.getLoopbackAddress();
                }
                try (DatagramSocket s = new DatagramSocket()) {
                    s.connect(t, peer.getPort());
                    InetAddress a = s.getLocalAddress();
                    if (a != null && !a.isAnyLocalAddress()) {
                        return a;
                    }
                }
            }
            return InetAddress.getLocalHost();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot choose a local address (" + e.getMessage() + "); give --bind ADDR");
        }
    }

    /**
     * A session's progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise
     * (a fetch redirected to a file gets no carriage returns), with the rate and peers.
     */
    static ProgressListener progressBar(picocli.CommandLine.Model.CommandSpec spec, String what) {
        long start = System.nanoTime();
        ProgressPrinter printer = (ProgressPrinter) ProgressPrinter.of(true, spec, what);
        return p -> {
            double secs = Math.max(0.001, (System.nanoTime() - start) / 1e9);
            printer.show(p.complete() ? p.totalBytes() : p.bytesDone(), p.totalBytes(), String.format(
                    java.util.Locale.ROOT, " %.1f MB/s %d peers", p.downloaded() / 1e6 / secs, p.connectedPeers()));
        };
    }

    /** Blocks until the process is stopped (Ctrl-C, SIGTERM); shutdown hooks close what runs. */
    static void waitUntilStopped(AutoCloseable... running) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (AutoCloseable c : running) {
                try {
                    if (c != null) {
                        c.close();
                    }
                } catch (Exception e) {
                    // stopping anyway
                }
            }
        }));
        try {
            Thread.currentThread().join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
