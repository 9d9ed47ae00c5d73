package io.cowherd.distribution.torrent;

import bt.Bt;
import bt.BtClientBuilder;
import bt.dht.DHTConfig;
import bt.dht.DHTModule;
import bt.metainfo.MetadataService;
import bt.metainfo.Torrent;
import bt.net.InetPeerAddress;
import bt.runtime.BtClient;
import bt.runtime.BtRuntime;
import bt.runtime.BtRuntimeBuilder;
import bt.runtime.Config;
import bt.torrent.TorrentSessionState;
import bt.tracker.http.HttpTrackerModule;
import io.cowherd.CowException;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One bt runtime and client: a seed, a fetch of a {@code .torrent}, or a fetch of a magnet link. */
final class BtSession implements TorrentSession {
    private static final Logger LOG = LoggerFactory.getLogger(BtSession.class);
    private static final int PORTS_TRIED = 200;

    /** What a session shares: a metainfo, or a magnet link whose metainfo comes from peers. */
    record Source(Metainfo metainfo, MagnetLink magnet) {
        static Source of(Metainfo m) {
            return new Source(m, null);
        }

        static Source of(MagnetLink m) {
            return new Source(null, m);
        }

        String name() {
            return metainfo != null ? metainfo.name() : magnet.displayName() != null ? magnet.displayName()
                    : "magnet " + magnet.infoHashHex();
        }
    }

    private final Source source;
    private final SessionOptions options;
    private final boolean seeder;
    private final InetSocketAddress listen;
    private final BtGuard guard;
    private final BtStorage storage;
    private volatile Metainfo metainfo;
    private BtRuntime runtime;
    private BtClient client;
    private volatile TorrentSessionState state;
    private volatile Throwable failure;
    private volatile boolean finished;
    private volatile boolean closed;
    private final SessionWatch watch;

    private BtSession(Source source, Path parent, SessionOptions options, boolean seeder, int port) {
        this.source = source;
        this.options = options;
        this.seeder = seeder;
        this.metainfo = source.metainfo();
        this.listen = new InetSocketAddress(options.bindAddress(), port);
        this.guard = new BtGuard(options, seeder);
        this.storage = new BtStorage(parent, seeder, this::metainfoOf);
        this.finished = seeder;
        this.watch = new SessionWatch(source.name(), options, seeder);
    }

    static BtSession start(BtEngine engine, Source source, Path parent, SessionOptions options, boolean seeder) {
        int port = freePort(options.bindAddress(), engine.dht() != null);
        BtSession s = new BtSession(source, parent, options, seeder, port);
        try {
            s.run(engine.dht());
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    private void run(BtEngine.Dht dht) {
        Config config = new Config();
        config.setAcceptorAddress(listen.getAddress());
        config.setAcceptorPort(listen.getPort());
        config.setPeerAddress(listen.getAddress());
        config.setNumOfHashingThreads(Runtime.getRuntime().availableProcessors());
        // peers come and go in a swarm of hosts (a seed restarted, a host rebooted): look again soon
        config.setPeerDiscoveryInterval(Duration.ofSeconds(2));
        config.setPeerConnectionRetryInterval(Duration.ofSeconds(2));
        config.setUnreachablePeerBanDuration(Duration.ofSeconds(5));
        config.setTimeoutedAssignmentPeerBanDuration(Duration.ofSeconds(5));
        // a rate-limited or busy uplink is slow, not broken
        config.setMaxPieceReceivingTime(Duration.ofSeconds(20));
        config.setShutdownHookTimeout(Duration.ofSeconds(5));
        // Throughput (measured, 1 GiB on loopback, one pair): bt's message loop sleeps up to 100 ms
        // when idle and a peer gets 3 pieces at a time: 6 MB/s. A 2 ms loop: 12 MB/s; then about
        // 16 MiB of pieces in flight per peer: 126-131 MB/s (4 MiB: 74 MB/s). The cowherd.bt.*
        // properties override these for experiments.
        int pieceLength = source.metainfo() != null ? source.metainfo().pieceLength() : 1 << 20;
        config.setMaxMessageProcessingInterval(Duration.ofMillis(Long.getLong("cowherd.bt.loopMillis", 2)));
        config.setMaxSimultaneouslyAssignedPieces(Integer.getInteger("cowherd.bt.assigned",
                Math.max(4, Math.min(32, (16 << 20) / pieceLength))));
        config.setMaxOutstandingRequests(Integer.getInteger("cowherd.bt.outstanding", 1000));
        BtRuntimeBuilder rb = BtRuntime.builder(config)
                .module(new BtGuardModule(guard))
                .module(new HttpTrackerModule())
                .disableLocalServiceDiscovery() // multicast: never
                .disableAutomaticShutdown();
        if (dht != null) {
            DHTConfig dc = new DHTConfig();
            dc.setListeningPort(listen.getPort());
            dc.setShouldUseRouterBootstrap(false); // never the public routers
            dc.setShouldUseIPv6(false);
            dc.setBootstrapNodes(dht.bootstrapNodes().stream()
                    .map(a -> new InetPeerAddress(a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString(),
                            a.getPort()))
                    .toList());
            rb.module(new DHTModule(dc));
        }
        runtime = rb.build();
        BtClientBuilder cb = Bt.client(runtime).storage(storage);
        if (source.metainfo() != null) {
            Metainfo m = source.metainfo();
            cb.torrent(() -> new MetadataService().fromByteArray(m.encoded()));
        } else {
            cb.magnet(source.magnet().text());
            cb.afterTorrentFetched(this::metainfoOf);
        }
        cb.afterDownloaded(t -> {
            if (allVerified(t)) { // bt also runs this when a stopped session leaves its download stage
                finish();
            }
        });
        if (!seeder && !options.seedAfter()) {
            cb.stopWhenDownloaded();
        }
        client = cb.build();
        client.startAsync(this::tick, 250).whenComplete((r, t) -> {
            if (t != null && !closed) {
                failure = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
                LOG.warn("{}: the bt client stopped: {}", source.name(), failure.toString());
            }
        });
        LOG.info("{} {} on {}:{}{}", seeder ? "seeding" : "fetching", source.name(), listen.getAddress().getHostAddress(),
                listen.getPort(), dht != null ? " (DHT on, bootstrap " + dht.bootstrapNodes() + ")" : "");
    }

    /** cowherd's checked metainfo for bt's torrent; for a magnet link, made once from the metadata peers sent. */
    private synchronized Metainfo metainfoOf(Torrent torrent) {
        if (metainfo == null) {
            try {
                metainfo = source.magnet().metainfoFrom(torrent.getSource().getExchangedMetadata());
                LOG.info("metadata of {} arrived: {} ({} bytes, {} files)", source.magnet().infoHashHex(), metainfo.name(),
                        metainfo.totalSize(), metainfo.files().size());
            } catch (RuntimeException e) {
                failure = e;
                throw e;
            }
        }
        return metainfo;
    }

    /** Whether bt holds every piece of {@code torrent} verified (asked of its bitfield, not of the last progress report). */
    private boolean allVerified(Torrent torrent) {
        return !closed && runtime.service(bt.torrent.TorrentRegistry.class).getDescriptor(torrent.getTorrentId())
                .map(d -> d.getDataDescriptor() != null && d.getDataDescriptor().getBitfield().getPiecesRemaining() == 0)
                .orElse(false);
    }

    /** Renames the {@code .part} files once every piece is verified. */
    private synchronized void finish() {
        if (!finished) {
            storage.finish();
            finished = true;
            LOG.info("{} complete and verified", source.name());
        }
    }

    private void tick(TorrentSessionState s) {
        state = s;
        try {
            if (!seeder && !closed && s.getPiecesTotal() > 0 && s.getPiecesRemaining() == 0 && !finished) {
                finish();
            }
            Progress p = progress();
            watch.observe(p);
            if (metainfo != null) {
                watch.report(p, finished);
            }
        } catch (RuntimeException e) {
            LOG.debug("progress tick failed: {}", e.toString());
        }
    }

    @Override
    public Metainfo metainfo() {
        return metainfo;
    }

    @Override
    public InetSocketAddress listenAddress() {
        return listen;
    }

    @Override
    public Progress progress() {
        Metainfo m = metainfo;
        TorrentSessionState s = state;
        if (m == null) {
            return new Progress(0, 0, 0, 0, 0, 0, s == null ? 0 : s.getConnectedPeers().size(), guard.hashFailures());
        }
        if (s == null) {
            int done = seeder ? m.pieceCount() : 0;
            return new Progress(done, m.pieceCount(), seeder ? m.totalSize() : 0, m.totalSize(), 0, 0, 0, guard.hashFailures());
        }
        long left = s.getLeft();
        long done = left == TorrentSessionState.UNKNOWN ? 0 : m.totalSize() - left;
        return new Progress(s.getPiecesComplete(), m.pieceCount(), Math.max(0, done), m.totalSize(), s.getDownloaded(),
                s.getUploaded(), s.getConnectedPeers().size(), guard.hashFailures());
    }

    @Override
    public void awaitCompletion(Duration timeout) throws TimeoutException, InterruptedException {
        watch.await(this, new SessionWatch.State() {
            @Override
            public boolean finished() {
                TorrentSessionState s = state;
                if (!finished && !seeder && !closed && s != null && s.getPiecesTotal() > 0 && s.getPiecesRemaining() == 0) {
                    finish();
                }
                return finished;
            }

            @Override
            public RuntimeException failure() {
                Throwable f = failure;
                if (f == null || f instanceof CowException) {
                    return (CowException) f;
                }
                return new NoPeerException(source.name() + ": the bt client failed (" + f + ") with "
                        + progress().piecesDone() + " of " + progress().pieceCount() + " pieces");
            }

            @Override
            public boolean closed() {
                return closed;
            }

            @Override
            public String awaited() {
                return metainfo == null ? "metadata" : "verified piece";
            }

            @Override
            public String sources() {
                return "trackers " + (metainfo != null ? metainfo.trackers() : source.magnet().trackers());
            }
        }, timeout);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        guard.stop();
        try {
            if (client != null) {
                client.stop();
            }
        } catch (RuntimeException e) {
            LOG.debug("stopping the bt client: {}", e.toString());
        }
        try {
            if (runtime != null) {
                runtime.shutdown();
            }
        } catch (RuntimeException e) {
            LOG.debug("shutting the bt runtime down: {}", e.toString());
        }
        storage.close();
    }

    /** The first port from {@link BtEngine#FIRST_PORT} free on {@code address} (TCP, and UDP for the DHT). */
    private static int freePort(InetAddress address, boolean udpToo) {
        for (int p = BtEngine.FIRST_PORT; p < BtEngine.FIRST_PORT + PORTS_TRIED; p++) {
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(true); // as bt's acceptor does: connections of an earlier session in TIME_WAIT do not block it
                s.bind(new InetSocketAddress(address, p));
                if (udpToo) {
                    try (DatagramSocket d = new DatagramSocket(new InetSocketAddress(address, p))) {
                        d.getLocalPort();
                    }
                }
                return p;
            } catch (IOException e) {
                // taken: try the next
            }
        }
        throw new CowException("no free port in " + BtEngine.FIRST_PORT + "-" + (BtEngine.FIRST_PORT + PORTS_TRIED - 1)
                + " on " + address.getHostAddress() + "; stop other sessions on that address or bind another");
    }
}
