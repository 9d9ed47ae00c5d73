package io.cowherd.distribution.torrent.ttorrent;

import com.turn.ttorrent.client.Client;
import com.turn.ttorrent.client.peer.SharingPeer;
import io.cowherd.CowIOException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.distribution.internal.SessionWatch;
import io.cowherd.distribution.torrent.EngineFeature;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.NoPeerException;
import io.cowherd.distribution.torrent.Progress;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentEngines;
import io.cowherd.distribution.torrent.TorrentSession;
import io.cowherd.internal.io.HostFiles;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link TorrentEngine} on ttorrent 1.5 ({@code com.turn:ttorrent-core}). HTTP trackers only,
 * no DHT, no magnet links (no metadata exchange). ttorrent listens on the first free port from
 * 49152 to 65534 of the bind address only; give each session its own address (any
 * {@code 127.0.0.x} on loopback) so that peers are told apart by address. Its library
 * ({@code com.turn:ttorrent-core}) is an optional dependency of cowherd-distribution.
 */
public final class TtorrentEngine implements TorrentEngine {
    private static final Logger LOG = LoggerFactory.getLogger(TtorrentEngine.class);

    @Override
    public String name() {
        return "ttorrent";
    }

    /**
     * Per-connection rate limits only: no metadata exchange (magnet links), no DHT, no web seeds,
     * and no limit on the session as a whole.
     */
    @Override
    public Set<EngineFeature> features() {
        return Set.of(EngineFeature.PEER_RATE_LIMITS);
    }

    @Override
    public TorrentSession seed(Metainfo metainfo, Path parent, SessionOptions options) {
        TorrentEngines.requireFeatures(this, options, false);
        metainfo.requireDataIn(parent);
        return start(metainfo, parent, options, true, false);
    }

    @Override
    public TorrentSession fetch(Metainfo metainfo, Path parent, SessionOptions options) {
        TorrentEngines.requireFeatures(this, options, true);
        if (metainfo.trackers().isEmpty()) {
            throw new UnsupportedFeatureException("torrent " + metainfo.name() + " names no tracker and the "
                    + name() + " engine has no DHT; name a tracker when the torrent is made (Metainfo.create trackers)");
        }
        List<Path> files = metainfo.resolveIn(parent);
        boolean fresh = true;
        try {
            Files.createDirectories(parent);
            for (Path f : files) {
                Path part = f.resolveSibling(f.getFileName() + ".part");
                if (Files.exists(f) || Files.exists(part) && HostFiles.allocatedBytes(part) > 0) {
                    fresh = false;
                }
                Files.createDirectories(f.getParent());
            }
        } catch (IOException e) {
            throw CowIOException.wrap(parent, "preparing", e);
        }
        LOG.info("fetching {} ({} bytes, {} pieces) into {}; {}", metainfo.name(), metainfo.totalSize(),
                metainfo.pieceCount(), parent, fresh ? "fresh target, nothing to verify" : "verifying what is on disk first");
        return start(metainfo, parent, options, false, fresh);
    }

    private TorrentSession start(Metainfo metainfo, Path parent, SessionOptions options, boolean seeder, boolean fresh) {
        try {
            CowherdSharedTorrent torrent = new CowherdSharedTorrent(metainfo, parent.toFile(), seeder, fresh,
                    options.tuning().requestPipeline());
            // per peer connection: ttorrent has no session-wide limit (PEER_RATE_LIMITS, checked above)
            if (options.maxDownloadBytesPerSecond() > 0) {
                torrent.setMaxDownloadRate(options.maxDownloadBytesPerSecond() / 1024.0);
            }
            if (options.maxUploadBytesPerSecond() > 0) {
                torrent.setMaxUploadRate(options.maxUploadBytesPerSecond() / 1024.0);
            }
            Client client = newClient(options.bindAddress(), torrent);
            Session s = new Session(metainfo, torrent, client, options, seeder);
            client.share(seeder || options.seedAfter() ? -1 : 0);
            s.startMonitor();
            return s;
        } catch (IOException e) {
            throw CowIOException.wrap(parent, "starting the torrent client for", e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A ttorrent client for {@code torrent}, routed around its listener race (see {@link CowherdClient}). */
    static Client newClient(java.net.InetAddress bind, CowherdSharedTorrent torrent) throws IOException {
        return new CowherdClient(bind, torrent);
    }


    /** One running ttorrent client. */
    private static final class Session implements TorrentSession {
        private final Metainfo metainfo;
        private final CowherdSharedTorrent torrent;
        private final Client client;
        private final SessionOptions options;
        private final boolean seeder;
        private final ScheduledExecutorService monitor;
        private final SafeAcceptor acceptor;
        private final SessionWatch watch;
        private volatile boolean closed;

        Session(Metainfo metainfo, CowherdSharedTorrent torrent, Client client, SessionOptions options, boolean seeder) {
            this.metainfo = metainfo;
            this.torrent = torrent;
            this.client = client;
            this.options = options;
            this.seeder = seeder;
            this.acceptor = new SafeAcceptor(client, metainfo.infoHash());
            this.watch = new SessionWatch(metainfo.name(), options, seeder);
            this.monitor = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "cowherd-progress-" + metainfo.name());
                t.setDaemon(true);
                return t;
            });
        }

        void startMonitor() {
            monitor.scheduleAtFixedRate(this::tick, 20, 250, TimeUnit.MILLISECONDS);
        }

        private void tick() {
            try {
                if (!acceptor.isRunning() && !closed) {
                    acceptor.takeOver();
                }
                if (!seeder) {
                    torrent.kick(client.getPeers());
                }
                Progress p = progress();
                watch.observe(p);
                watch.report(p, torrent.isInitialized() && torrent.isFinished());
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
            return new InetSocketAddress(client.getPeerSpec().getIp(), client.getPeerSpec().getPort());
        }

        @Override
        public Progress progress() {
            int done = 0;
            long bytes = 0;
            if (torrent.isInitialized()) {
                java.util.BitSet c = torrent.getCompletedPieces();
                done = c.cardinality();
                bytes = metainfo.totalSize() - torrent.getLeft();
            }
            int peers = 0;
            for (SharingPeer p : client.getPeers()) {
                if (p.isConnected()) {
                    peers++;
                }
            }
            return new Progress(done, metainfo.pieceCount(), Math.max(0, bytes), metainfo.totalSize(),
                    torrent.getDownloaded(), torrent.getUploaded(), peers, torrent.hashFailures(), torrent.resumedPieces());
        }

        @Override
        public void awaitCompletion(Duration timeout) throws TimeoutException, InterruptedException {
            watch.await(this, new SessionWatch.State() {
                @Override
                public boolean finished() {
                    return torrent.isInitialized() && torrent.isFinished();
                }

                @Override
                public RuntimeException failure() {
                    Client.ClientState st = client.getState();
                    if (st == Client.ClientState.ERROR || st == Client.ClientState.DONE && !finished()) {
                        return new NoPeerException(metainfo.name() + ": the torrent client stopped (" + st + ") with "
                                + progress().piecesDone() + " of " + metainfo.pieceCount() + " pieces");
                    }
                    return null;
                }

                @Override
                public boolean closed() {
                    return closed;
                }

                @Override
                public boolean clockRunning() {
                    return torrent.isInitialized(); // an interrupted fetch's .part is verified first
                }

                @Override
                public String sources() {
                    return "trackers " + metainfo.trackers();
                }
            }, timeout);
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            monitor.shutdownNow();
            acceptor.stop();
            InetSocketAddress self = listenAddress();
            client.stop(false);
            // ttorrent's ConnectionHandler.stop() joins a thread blocked in a blocking accept()
            // until some peer connects; connect once so it sees the stop flag.
            try (java.net.Socket poke = new java.net.Socket()) {
                poke.connect(self, 1000);
            } catch (IOException e) {
                LOG.debug("poking {} failed: {}", self, e.toString());
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (client.getState() != Client.ClientState.DONE && client.getState() != Client.ClientState.ERROR
                    && System.nanoTime() < end) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            torrent.close();
        }
    }
}
