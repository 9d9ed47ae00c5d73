package io.cowherd.distribution.torrent.libtorrent;


import io.cowherd.CowException;
import io.cowherd.distribution.internal.Addresses;
import io.cowherd.distribution.internal.Bencode;
import io.cowherd.distribution.internal.SessionWatch;
import io.cowherd.distribution.torrent.MagnetLink;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.Progress;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentSession;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.libtorrent4j.AddTorrentParams;
import org.libtorrent4j.AlertListener;
import org.libtorrent4j.PeerInfo;
import org.libtorrent4j.Priority;
import org.libtorrent4j.SessionManager;
import org.libtorrent4j.SessionParams;
import org.libtorrent4j.SettingsPack;
import org.libtorrent4j.TorrentFlags;
import org.libtorrent4j.TorrentHandle;
import org.libtorrent4j.TorrentInfo;
import org.libtorrent4j.TorrentStatus;
import org.libtorrent4j.alerts.Alert;
import org.libtorrent4j.alerts.AlertType;
import org.libtorrent4j.alerts.FileRenameFailedAlert;
import org.libtorrent4j.alerts.FileRenamedAlert;
import org.libtorrent4j.alerts.HashFailedAlert;
import org.libtorrent4j.alerts.ListenFailedAlert;
import org.libtorrent4j.alerts.ListenSucceededAlert;
import org.libtorrent4j.alerts.PeerBanAlert;
import org.libtorrent4j.alerts.PieceFinishedAlert;
import org.libtorrent4j.alerts.SocketType;
import org.libtorrent4j.alerts.StateChangedAlert;
import org.libtorrent4j.alerts.TorrentErrorAlert;
import org.libtorrent4j.swig.add_torrent_params;
import org.libtorrent4j.swig.address;
import org.libtorrent4j.swig.alert_category_t;
import org.libtorrent4j.swig.error_code;
import org.libtorrent4j.swig.int_string_map;
import org.libtorrent4j.swig.ip_filter;
import org.libtorrent4j.swig.settings_pack;
import org.libtorrent4j.swig.torrent_flags_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One libtorrent session holding one torrent: a seed, a fetch of a {@code .torrent}, or a fetch of
 * a magnet link. libtorrent runs its own threads; this class turns its alerts and status into
 * cowherd's progress, errors and {@code .part} discipline.
 */
final class LibtorrentSession implements TorrentSession {
    private static final Logger LOG = LoggerFactory.getLogger(LibtorrentSession.class);
    private static final int PORTS_TRIED = 200;
    /** libtorrent's built-in peer class that session-wide rate limits apply to. */
    private static final long GLOBAL_PEER_CLASS = 1L;

    private final MagnetLink magnet;
    private final Path parent;
    private final SessionOptions options;
    private final boolean seeder;
    private final SessionManager session = new SessionManager(false);
    private final CountDownLatch listening = new CountDownLatch(1);
    private final AtomicInteger hashFailures = new AtomicInteger();
    /** File index to final path (relative to {@link #parent}) for files fetched under {@code NAME.part}. */
    private final Map<Integer, String> partFiles = new ConcurrentHashMap<>();
    private final Set<Integer> renamesPending = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService monitor;
    /**
     * Calls into libtorrent from cowherd's threads (status, rename, pause) hold this shared;
     * {@link #close()} holds it exclusively while the session is destroyed. A handle's call
     * racing the destruction of its session crashed the JVM in native code.
     */
    private final java.util.concurrent.locks.ReentrantReadWriteLock nativeLock = new java.util.concurrent.locks.ReentrantReadWriteLock();
    private volatile Metainfo metainfo;
    private volatile TorrentHandle handle;
    private volatile InetSocketAddress listen;
    private volatile String listenError;
    private volatile RuntimeException failure;
    private volatile boolean finishing;
    private volatile long finishingSince;
    private volatile boolean finished;
    private volatile boolean originsAdded;
    /** Pieces the check of the data on disk kept ({@link Progress#resumedPieces()}), and pieces received since. */
    private final AtomicInteger piecesResumed = new AtomicInteger();
    private final AtomicInteger piecesFetched = new AtomicInteger();
    /** Pieces readers wait for ({@link #fetchFirst}), in the order asked for; guarded by itself. */
    private final java.util.LinkedHashSet<Integer> wanted = new java.util.LinkedHashSet<>();
    /** The boot profile's pieces in order ({@link #prefetch}), or null; guarded by {@link #wanted}. */
    private List<Integer> profile;
    /** This fetch's share of {@link #profile} among the wanted pieces; guarded by {@link #wanted}. */
    private final java.util.Set<Integer> profileShare = new java.util.HashSet<>();
    /** The stripe ("RANK/COUNT") the share was taken for; guarded by {@link #wanted}. */
    private String profileSplit;
    /**
     * Pieces libtorrent said it verified ("piece finished" alerts: the pieces its check of the data on
     * disk kept, then each piece received); guarded by itself. What the bookkeeping of wanted pieces
     * looks at instead of asking libtorrent: each such question waits its turn on libtorrent's network
     * thread, milliseconds on a busy host, and a reader's miss asked dozens of them.
     */
    private final java.util.BitSet held = new java.util.BitSet();
    /** Notified at each piece verified, for readers waiting in {@link #awaitPiece}. */
    private final Object pieceArrived = new Object();
    /** Whether the check of the data on disk is over (only the alert thread changes it). */
    private volatile boolean checked;
    private volatile boolean closed;
    private final SessionWatch watch;
    /** This fetch's stripe of the pieces; only the monitor thread changes it. */
    private volatile PieceStripes stripes;
    /** The stripe's pieces as flags, or null before the first; only the monitor thread changes it. */
    private boolean[] stripe;
    /**
     * Whether only the boot profile's pieces (and what readers wait for) are wanted now: all fetches
     * of a bundle boot from the same pieces, and rarest-first among those alone spreads them as fast
     * as the swarm can, each once from the seed; only the monitor thread changes it.
     */
    private boolean bootSetFirst;
    /** Whether the boot profile's turn is over (its pieces held, or none came for a while); only the monitor thread changes it. */
    private boolean bootSetDone;
    /** The benchmark diagnostic ({@link LibtorrentTrace}), usually null. */
    private volatile LibtorrentTrace trace;
    /** When the next DHT announce of a session without peers is due, and the wait after it (monitor thread only). */
    private long nextDhtAnnounce;
    private long dhtAnnounceWait = DHT_ANNOUNCE_FIRST_WAIT;

    private LibtorrentSession(Metainfo metainfo, MagnetLink magnet, Path parent, SessionOptions options, boolean seeder) {
        this.metainfo = metainfo;
        this.magnet = magnet;
        this.parent = parent;
        this.options = options;
        this.seeder = seeder;
        this.finished = seeder;
        if (seeder && metainfo != null) {
            held.set(0, metainfo.pieceCount());
        }
        this.watch = new SessionWatch(name(), options, seeder);
        this.monitor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cowherd-libtorrent-" + name());
            t.setDaemon(true);
            return t;
        });
    }

    static LibtorrentSession start(Metainfo metainfo, MagnetLink magnet, Path parent,
            SessionOptions options, boolean seeder) {
        LibtorrentNative.ensureLoadable();
        LibtorrentSession s = new LibtorrentSession(metainfo, magnet, parent, options, seeder);
        try {
            s.run(options.dhtBootstrapNodes());
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    private String name() {
        Metainfo m = metainfo;
        return m != null ? m.name() : magnet.displayName() != null ? magnet.displayName() : "magnet " + magnet.infoHashHex();
    }

    private void run(List<InetSocketAddress> dht) {
        session.addListener(new Alerts());
        SessionParams params = new SessionParams(settings(dht));
        if (!options.tuning().mmapDisk()) {
            params.setPosixDiskIO();
        }
        session.start(params);
        if (options.maxDownloadBytesPerSecond() > 0 || options.maxUploadBytesPerSecond() > 0) {
            limitEveryPeer();
        }
        try {
            if (!listening.await(20, TimeUnit.SECONDS) || listen == null) {
                throw new CowException("libtorrent could not listen on " + options.bindAddress().getHostAddress() + " ports "
                        + Addresses.FIRST_PEER_PORT + "-" + (Addresses.FIRST_PEER_PORT + PORTS_TRIED - 1) + ": "
                        + (listenError != null ? listenError : "no answer in 20 s"));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CowException("interrupted while libtorrent started listening", e);
        }
        // only the alerts handled here (libtorrent4j asks for all but the logs, block progress included)
        alert_category_t categories = org.libtorrent4j.swig.alert.error_notification
                .or_(org.libtorrent4j.swig.alert.status_notification).or_(org.libtorrent4j.swig.alert.storage_notification)
                .or_(org.libtorrent4j.swig.alert.peer_notification).or_(org.libtorrent4j.swig.alert.piece_progress_notification);
        trace = LibtorrentTrace.open(options.bindAddress().getHostAddress());
        if (trace != null) {
            session.addListener(trace);
            categories = categories.or_(org.libtorrent4j.swig.alert.upload_notification)
                    .or_(org.libtorrent4j.swig.alert.piece_progress_notification);
        }
        SettingsPack mask = new SettingsPack();
        mask.setInteger(settings_pack.int_types.alert_mask.swigValue(), categories.to_int());
        session.applySettings(mask);
        add();
        monitor.scheduleAtFixedRate(this::tick, 20, 250, TimeUnit.MILLISECONDS);
    }

    /** What every session sets: the bind address only, TCP only, nothing that reaches past the given peers. */
    private SettingsPack settings(List<InetSocketAddress> dht) {
        String host = Addresses.hostForUrl(new InetSocketAddress(options.bindAddress(), 0));
        SettingsPack sp = new SettingsPack();
        str(sp, settings_pack.string_types.listen_interfaces, host + ":" + Addresses.FIRST_PEER_PORT);
        integer(sp, settings_pack.int_types.max_retry_port_bind, PORTS_TRIED - 1);
        // connect from, and announce, the bind address: trackers hand it to others, bans go by it
        str(sp, settings_pack.string_types.outgoing_interfaces, options.bindAddress().getHostAddress());
        str(sp, settings_pack.string_types.announce_ip, options.bindAddress().getHostAddress());
        // a fast transfer posts thousands of progress alerts; a full queue drops alerts, and a
        // dropped "file renamed" left a fetch waiting for ever (seen once in the tests)
        integer(sp, settings_pack.int_types.alert_queue_size, 50_000);
        bool(sp, settings_pack.bool_types.enable_lsd, false); // multicast: never
        bool(sp, settings_pack.bool_types.enable_upnp, false);
        bool(sp, settings_pack.bool_types.enable_natpmp, false);
        // TCP only: uTP moved a loopback pair at a tenth of TCP's rate, and aria2 speaks TCP
        bool(sp, settings_pack.bool_types.enable_outgoing_utp, false);
        bool(sp, settings_pack.bool_types.enable_incoming_utp, false);
        bool(sp, settings_pack.bool_types.allow_multiple_connections_per_ip, true);
        // plaintext handshakes out (incoming ones may be either): ttorrent speaks no MSE, and
        // libtorrent's default (try MSE first) reached a ttorrent seed in one test run of two
        integer(sp, settings_pack.int_types.out_enc_policy, settings_pack.enc_policy.pe_disabled.swigValue());
        // Throughput, measured (EngineTuning holds the figures; SessionOptions.tuning changes them for experiments):
        // - one pair on loopback, 1 GiB: libtorrent's defaults keep a few hundred KiB in flight
        //   and moved 7-15 MB/s; deeper request queues and more disk threads: 240-290 MB/s.
        // - 256 MiB to 8 namespace hosts at 100 Mbit/s: with 8 MiB send buffers 38-44 s; every
        //   peer unchoked (a cooperative swarm, no tit-for-tat needed), 1 s request queues: 34 s;
        //   128 KiB send buffers on top (a piece is done, and shareable, sooner): 32-33 s.
        //   Super-seeding (41 s), smaller pieces and smaller socket buffers did not help.
        integer(sp, settings_pack.int_types.send_buffer_watermark, options.tuning().sendBufferBytes());
        integer(sp, settings_pack.int_types.send_buffer_watermark_factor, 150);
        integer(sp, settings_pack.int_types.max_queued_disk_bytes, 32 << 20);
        integer(sp, settings_pack.int_types.max_out_request_queue, options.tuning().maxOutRequests());
        integer(sp, settings_pack.int_types.max_allowed_in_request_queue, 2000);
        integer(sp, settings_pack.int_types.request_queue_time, options.tuning().requestQueueSeconds());
        integer(sp, settings_pack.int_types.unchoke_slots_limit, options.tuning().unchokeSlots());
        integer(sp, settings_pack.int_types.aio_threads, options.tuning().diskThreads());
        integer(sp, settings_pack.int_types.hashing_threads, options.tuning().hashingThreads());
        // hosts come and go in a swarm (a seed restarted, a host rebooted): reconnect soon
        integer(sp, settings_pack.int_types.min_reconnect_time, 1);
        // libtorrent raises a tracker's announce interval to at least 5 minutes by default: a
        // fetch that announced before its seed did (the seed still starting, or restarted) then
        // waited 5 minutes for a peer. cowherd's trackers ask for 10 s; follow them.
        integer(sp, settings_pack.int_types.min_announce_interval, 5);
        integer(sp, settings_pack.int_types.peer_connect_timeout, 5);
        if (options.maxDownloadBytesPerSecond() > 0) {
            integer(sp, settings_pack.int_types.download_rate_limit, (int) Math.min(Integer.MAX_VALUE, options.maxDownloadBytesPerSecond()));
        }
        if (options.maxUploadBytesPerSecond() > 0) {
            integer(sp, settings_pack.int_types.upload_rate_limit, (int) Math.min(Integer.MAX_VALUE, options.maxUploadBytesPerSecond()));
        }
        bool(sp, settings_pack.bool_types.enable_dht, dht != null);
        str(sp, settings_pack.string_types.dht_bootstrap_nodes, dht == null ? "" : dht.stream()
                .map(a -> Addresses.hostForUrl(a) + ":" + a.getPort()).collect(Collectors.joining(",")));
        if (dht != null) {
            // a private DHT on one network (loopback or a lab bridge): libtorrent's defaults, made
            // against Sybil attacks on the public DHT, would drop every node but one per /24
            bool(sp, settings_pack.bool_types.dht_restrict_routing_ips, false);
            bool(sp, settings_pack.bool_types.dht_restrict_search_ips, false);
            bool(sp, settings_pack.bool_types.dht_enforce_node_id, false);
            bool(sp, settings_pack.bool_types.dht_prefer_verified_node_ids, false);
            bool(sp, settings_pack.bool_types.dht_ignore_dark_internet, false);
        }
        return sp;
    }

    private static void str(SettingsPack sp, settings_pack.string_types key, String value) {
        sp.setString(key.swigValue(), value);
    }

    private static void integer(SettingsPack sp, settings_pack.int_types key, int value) {
        sp.setInteger(key.swigValue(), value);
    }

    private static void bool(SettingsPack sp, settings_pack.bool_types key, boolean value) {
        sp.setBoolean(key.swigValue(), value);
    }

    /**
     * libtorrent exempts peers on local networks (loopback, 10/8, 192.168/16, ...) from the
     * session's rate limits by default; cowherd's limits are per host, whoever the peer is.
     */
    private void limitEveryPeer() {
        error_code ec = new error_code();
        ip_filter filter = new ip_filter();
        filter.add_rule(address.from_string("0.0.0.0", ec), address.from_string("255.255.255.255", ec), GLOBAL_PEER_CLASS);
        filter.add_rule(address.from_string("::", ec), address.from_string("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ec),
                GLOBAL_PEER_CLASS);
        session.swig().set_peer_class_filter(filter);
    }

    private void add() {
        add_torrent_params atp;
        // not auto-managed, not paused: one torrent per session, running until closed
        torrent_flags_t flags = TorrentFlags.APPLY_IP_FILTER.or_(TorrentFlags.UPDATE_SUBSCRIBE);
        if (metainfo != null) {
            TorrentInfo ti = TorrentInfo.bdecode(metainfo.encoded());
            atp = new add_torrent_params();
            atp.set_ti(ti.swig());
            if (seeder) {
                flags = flags.or_(TorrentFlags.SEED_MODE);
            } else {
                int_string_map renamed = new int_string_map();
                for (int i = 0; i < ti.numFiles(); i++) {
                    String rel = ti.files().filePath(i);
                    if (!Files.exists(parent.resolve(rel))) {
                        partFiles.put(i, rel);
                        renamed.put(i, rel + ".part");
                    }
                }
                atp.set_renamed_files(renamed);
            }
        } else {
            atp = AddTorrentParams.parseMagnetUri(magnet.text()).swig();
            // metadata first, checked by cowherd before anything is written (see #metadataArrived)
            flags = flags.or_(TorrentFlags.UPLOAD_MODE);
        }
        if (!options.tuning().peerExchange()) {
            flags = flags.or_(TorrentFlags.DISABLE_PEX);
        }
        atp.setSave_path(parent.toAbsolutePath().toString());
        atp.setFlags(flags);
        error_code ec = new error_code();
        org.libtorrent4j.swig.torrent_handle th = session.swig().add_torrent(atp, ec);
        if (ec.value() != 0) {
            throw new CowException("libtorrent refused " + name() + ": " + ec.message());
        }
        handle = new TorrentHandle(th);
        if (!seeder && !options.origins().isEmpty() && options.originAfter().isZero()) {
            addOrigins("at once, as asked");
        }
    }

    private static boolean checking(TorrentStatus.State s) {
        return s == TorrentStatus.State.CHECKING_FILES || s == TorrentStatus.State.CHECKING_RESUME_DATA;
    }

    /** libtorrent's events, on its alert thread: keep the work here short. */
    private final class Alerts implements AlertListener {
        @Override
        public int[] types() {
            return new int[] {AlertType.LISTEN_SUCCEEDED.swig(), AlertType.LISTEN_FAILED.swig(), AlertType.HASH_FAILED.swig(),
                AlertType.PEER_BAN.swig(), AlertType.FILE_RENAMED.swig(), AlertType.FILE_RENAME_FAILED.swig(),
                AlertType.TORRENT_ERROR.swig(), AlertType.METADATA_RECEIVED.swig(), AlertType.URL_SEED.swig(),
                AlertType.TORRENT_FINISHED.swig(), AlertType.PIECE_FINISHED.swig(),
                AlertType.STATE_CHANGED.swig()};
        }

        @Override
        public void alert(Alert<?> a) {
            try {
                switch (a.type()) {
                    case LISTEN_SUCCEEDED -> {
                        ListenSucceededAlert l = (ListenSucceededAlert) a;
                        if (l.socketType() == SocketType.TCP && listen == null) {
                            listen = new InetSocketAddress(options.bindAddress(), l.port());
                            listening.countDown();
                        }
                    }
                    case LISTEN_FAILED -> {
                        ListenFailedAlert l = (ListenFailedAlert) a;
                        listenError = l.message();
                        LOG.debug("libtorrent: {}", l.message());
                    }
                    case HASH_FAILED -> {
                        int n = hashFailures.incrementAndGet();
                        LOG.info("{}: piece {} failed its hash ({} so far); libtorrent's smart ban finds the peer that sent it",
                                name(), ((HashFailedAlert) a).pieceIndex(), n);
                    }
                    case PEER_BAN -> LOG.warn("{}: banning peer {}: it sent data that failed the hash", name(),
                            ((PeerBanAlert) a).endpoint());
                    case FILE_RENAMED -> {
                        FileRenamedAlert r = (FileRenamedAlert) a;
                        renamesPending.remove(r.index());
                        if (finishing && renamesPending.isEmpty()) {
                            monitor.execute(LibtorrentSession.this::tick); // done: say so now, not at the next tick
                        }
                    }
                    case TORRENT_FINISHED -> monitor.execute(LibtorrentSession.this::tick); // start the renames now
                    // libtorrent posts one for each piece its check of an interrupted fetch's data keeps, then
                    // the state change out of checking, then one for each piece received: alerts come in order
                    case PIECE_FINISHED -> {
                        (checked ? piecesFetched : piecesResumed).incrementAndGet();
                        synchronized (held) {
                            held.set(((PieceFinishedAlert) a).pieceIndex());
                        }
                        synchronized (pieceArrived) {
                            pieceArrived.notifyAll();
                        }
                    }
                    case STATE_CHANGED -> {
                        StateChangedAlert c = (StateChangedAlert) a;
                        if (checking(c.getPrevState()) && !checking(c.getState())) {
                            checked = true;
                            if (piecesResumed.get() > 0) {
                                LOG.info("{}: {} verified pieces found on disk, kept", name(), piecesResumed.get());
                            }
                        }
                    }
                    case FILE_RENAME_FAILED -> {
                        FileRenameFailedAlert r = (FileRenameFailedAlert) a;
                        failure = new CowException(name() + ": cannot give file " + r.getIndex() + " its final name in "
                                + parent + ": " + r.getError().getMessage());
                    }
                    case TORRENT_ERROR -> {
                        TorrentErrorAlert e = (TorrentErrorAlert) a;
                        failure = new CowException(name() + ": " + e.error().getMessage()
                                + (e.filename() == null || e.filename().isEmpty() ? "" : " (" + e.filename() + ")"));
                    }
                    case METADATA_RECEIVED -> monitor.execute(LibtorrentSession.this::metadataArrived);
                    case URL_SEED -> LOG.warn("{}: origin: {}", name(), a.message());
                    default -> LOG.debug("libtorrent: {}", a.message());
                }
            } catch (RuntimeException e) {
                LOG.debug("handling {} failed: {}", a.type(), e.toString());
            }
        }
    }

    /**
     * A magnet link's metadata arrived (in upload mode, so nothing was written): check it as
     * strictly as a {@code .torrent} file, give the files their {@code .part} names, then let
     * the download start. Metadata that fails the checks ends the session with that error.
     */
    private void metadataArrived() {
        nativeLock.readLock().lock();
        try {
            if (closed) {
                return;
            }
            byte[] full = handle.torrentFile().bencode();
            Bencode.Value info = Bencode.decode(full).dict().get("info");
            if (info == null) {
                throw new CowException(name() + ": libtorrent returned metadata without an info dictionary");
            }
            Metainfo m = magnet.metainfoFrom(Arrays.copyOfRange(full, info.start(), info.end()));
            List<Path> files = m.resolveIn(parent); // refuses names that escape the directory
            LOG.info("metadata of {} arrived: {} ({} bytes, {} files)", magnet.infoHashHex(), m.name(), m.totalSize(),
                    files.size());
            for (int i = 0; i < files.size(); i++) {
                String rel = parent.relativize(files.get(i)).toString();
                if (!Files.exists(files.get(i))) {
                    partFiles.put(i, rel);
                    renamesPending.add(i);
                    handle.renameFile(i, rel + ".part");
                }
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!renamesPending.isEmpty() && failure == null && !closed && System.nanoTime() < end) {
                Thread.sleep(5);
            }
            if (!renamesPending.isEmpty()) {
                throw new CowException(name() + ": libtorrent did not rename the files to .part in 20 s");
            }
            metainfo = m;
            watch.restartClock();
            handle.unsetFlags(TorrentFlags.UPLOAD_MODE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.warn("{}: refusing the metadata peers sent: {}", name(), e.getMessage());
            failure = e;
            handle.pause();
        } finally {
            nativeLock.readLock().unlock();
        }
    }

    /**
     * Gives this fetch's stripe (see {@link PieceStripes}) priority 6, the rest the default 4.
     * libtorrent's picker halves the availability of pieces at priority 4 to 6 and then prefers the
     * higher priority among equals: rarest-first still decides, the stripe breaks its ties. (Priority
     * 7 ignores availability: a fetch then asked the seed for stripe pieces other fetches already held.)
     *
     * <p>While a boot profile has pieces this fetch lacks, every other piece gets priority 0 (see
     * {@link #bootSetFirst}): the swarm's own rarest-first then moves the boot set alone. That ends
     * for good once the profile's pieces are held, or when no piece has come for
     * {@value #BOOT_SET_STALL_SECONDS} s (a profile piece no source has: the rest must still come,
     * so that the fetch holds what it can and its failure names only the pieces nobody had).
     */
    private void updateStripes() {
        boolean[] changed = null;
        if (options.tuning().pieceStripes()) { // off only for measuring without them
            if (stripes == null) {
                stripes = new PieceStripes(metainfo.pieceCount(), options.bindAddress());
            }
            List<InetAddress> fetches = new ArrayList<>();
            for (PeerInfo peer : handle.peerInfo()) {
                InetAddress address = addressOf(peer.ip());
                if (peer.progressPpm() < 1_000_000 && address != null) {
                    fetches.add(address);
                }
            }
            changed = stripes.update(fetches);
            if (changed != null) {
                stripe = changed;
                LOG.debug("{}: stripe {} of {}", name(), stripes.rank(), stripes.count());
            }
        }
        boolean first = false;
        if (!bootSetDone && hasProfile()) {
            if (!lacksBootSet()) {
                bootSetDone = true;
                LOG.info("{}: the boot profile's pieces held; every piece wanted", name());
            } else if (bootSetFirst && watch.quietFor(Duration.ofSeconds(BOOT_SET_STALL_SECONDS))) {
                bootSetDone = true;
                LOG.info("{}: no piece for {} s while the boot profile's came first; every piece wanted", name(),
                        BOOT_SET_STALL_SECONDS);
            } else {
                first = true;
            }
        }
        if (changed == null && first == bootSetFirst) {
            return;
        }
        if (first != bootSetFirst) {
            bootSetFirst = first;
            keepSeedsWhileBootSetFirst(first);
            if (first) {
                LOG.info("{}: the boot profile's pieces first, the others held back", name());
            }
        }
        Priority[] priorities = new Priority[metainfo.pieceCount()];
        boolean[] s = stripe;
        for (int i = 0; i < priorities.length; i++) {
            priorities[i] = s != null && s[i] ? Priority.SIX : Priority.DEFAULT;
        }
        synchronized (wanted) {
            if (first) {
                java.util.Set<Integer> boot = new java.util.HashSet<>(profile);
                for (int i = 0; i < priorities.length; i++) {
                    if (!boot.contains(i)) {
                        priorities[i] = Priority.IGNORE;
                    }
                }
            }
            // a reader waits for these: their deadlines gave them the top priority, keep it
            for (int piece : wanted) {
                priorities[piece] = Priority.TOP_PRIORITY;
            }
        }
        handle.prioritizePieces(priorities);
        if (changed != null) {
            applyProfile(handle);
        }
    }

    private static final int BOOT_SET_STALL_SECONDS = 10;

    private boolean hasProfile() {
        synchronized (wanted) {
            return profile != null;
        }
    }

    /** Whether a boot profile is set and this fetch lacks some of its pieces. */
    private boolean lacksBootSet() {
        synchronized (wanted) {
            if (profile == null) {
                return false;
            }
            for (int piece : profile) {
                if (!holds(piece)) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * A torrent whose wanted pieces are all held is "finished" to libtorrent, which then drops its
     * connections to seeds; while only the boot set is wanted that would cut this fetch off from the
     * seed for the moment between holding the boot set and wanting the rest again.
     */
    private void keepSeedsWhileBootSetFirst(boolean first) {
        SettingsPack sp = new SettingsPack();
        bool(sp, settings_pack.bool_types.close_redundant_connections, !first);
        session.applySettings(sp);
    }

    /** This fetch's stripe as "RANK/COUNT" ("0/1": alone or none yet), for tests. */
    String stripe() {
        PieceStripes s = stripes;
        return s == null ? "0/1" : s.rank() + "/" + s.count();
    }

    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    /**
     * The address in a libtorrent4j endpoint ({@code tcp://10.0.0.2:6881}, {@code tcp://[::1]:6881});
     * null for anything else. Only literals are parsed: this never looks a name up.
     */
    static InetAddress addressOf(String endpoint) {
        int scheme = endpoint.indexOf("://");
        String rest = scheme < 0 ? endpoint : endpoint.substring(scheme + 3);
        int colon = rest.lastIndexOf(':');
        if (colon <= 0) {
            return null;
        }
        String host = rest.substring(0, colon);
        boolean v6 = host.length() > 2 && host.startsWith("[") && host.endsWith("]") && host.indexOf(':') > 0;
        if (!v6 && !IPV4.matcher(host).matches()) {
            return null;
        }
        try {
            return InetAddress.getByName(v6 ? host.substring(1, host.length() - 1) : host);
        } catch (UnknownHostException e) {
            return null; // e.g. an octet above 255
        }
    }

    /** Once every piece is verified: give the {@code .part} files their final names. */
    private void startFinishing() {
        finishing = true;
        finishingSince = System.nanoTime();
        for (Map.Entry<Integer, String> e : partFiles.entrySet()) {
            renamesPending.add(e.getKey());
            handle.renameFile(e.getKey(), e.getValue());
        }
    }

    /**
     * A rename is done when its alert came or the file system shows it (the final name there,
     * the {@code .part} gone); one still pending after 5 s is asked for again.
     */
    private void checkRenames() {
        boolean retry = System.nanoTime() - finishingSince > TimeUnit.SECONDS.toNanos(5);
        for (Integer i : renamesPending) {
            String rel = partFiles.get(i);
            if (Files.exists(parent.resolve(rel)) && !Files.exists(parent.resolve(rel + ".part"))) {
                renamesPending.remove(i);
            } else if (retry) {
                LOG.debug("{}: renaming {} again", name(), rel);
                handle.renameFile(i, rel);
            }
        }
        if (retry) {
            finishingSince = System.nanoTime();
        }
    }

    private void tick() {
        nativeLock.readLock().lock();
        try {
            if (closed) {
                return;
            }
            Progress p = progressLocked();
            watch.observe(p);
            announceToDhtWhileAlone(p);
            if (!seeder && metainfo != null && !p.complete()) {
                updateStripes();
            }
            if (!seeder && metainfo != null && p.complete()) {
                if (!finishing) {
                    startFinishing();
                } else {
                    checkRenames();
                }
                if (!finished && renamesPending.isEmpty()) {
                    finished = true;
                    LOG.info("{} complete and verified", name());
                    if (!options.seedAfter()) {
                        handle.pause();
                    }
                }
            }
            if (!seeder && !finished && !originsAdded && !options.origins().isEmpty()
                    && watch.quietFor(options.originAfter())) {
                addOrigins("no new piece for " + options.originAfter().toSeconds() + " s");
            }
            if (metainfo != null) {
                watch.report(p, finished);
            }
        } catch (RuntimeException e) {
            LOG.debug("progress tick failed: {}", e.toString());
        } finally {
            nativeLock.readLock().unlock();
        }
    }

    /**
     * libtorrent announces a torrent to the DHT when it starts and then every 15 minutes. On a
     * small private DHT the first announce often reaches nobody: a seed that started before any
     * other node joined, or a fetch that asked before the seed had announced (seen in CI: a
     * magnet fetch found no peer for 60 s). So a session with the DHT on and no peer announces
     * again after 5 s, the wait doubling up to 60 s, until a peer connects.
     */
    private void announceToDhtWhileAlone(Progress p) {
        if (options.dhtBootstrapNodes() == null || handle == null || !handle.isValid()) {
            return;
        }
        long now = System.nanoTime();
        if (p.connectedPeers() > 0) {
            nextDhtAnnounce = now + DHT_ANNOUNCE_FIRST_WAIT;
            dhtAnnounceWait = DHT_ANNOUNCE_FIRST_WAIT;
        } else if (nextDhtAnnounce == 0) {
            nextDhtAnnounce = now + dhtAnnounceWait;
        } else if (now - nextDhtAnnounce >= 0) {
            LOG.debug("{}: no peer; announcing to the DHT again", name());
            handle.forceDHTAnnounce();
            dhtAnnounceWait = Math.min(2 * dhtAnnounceWait, DHT_ANNOUNCE_LAST_WAIT);
            nextDhtAnnounce = now + dhtAnnounceWait;
        }
    }

    private static final long DHT_ANNOUNCE_FIRST_WAIT = TimeUnit.SECONDS.toNanos(5);
    private static final long DHT_ANNOUNCE_LAST_WAIT = TimeUnit.SECONDS.toNanos(60);

    /** The swarm stalled: fetch the rest from the HTTP origins too (BEP 19 web seeds). */
    private void addOrigins(String why) {
        originsAdded = true;
        LOG.warn("{}: {}; fetching from the origin{} {} too", name(), why, options.origins().size() == 1 ? "" : "s",
                options.origins());
        for (URI u : options.origins()) {
            handle.addUrlSeed(u.toString());
        }
    }

    /** Whether this session has fallen back to its HTTP origins. */
    boolean usingOrigins() {
        return originsAdded;
    }

    /** How many blocks this session asks ahead of one peer, as libtorrent holds it: for tests. */
    int maxOutRequestQueue() {
        nativeLock.readLock().lock();
        try {
            return session.settings().getInteger(settings_pack.int_types.max_out_request_queue.swigValue());
        } finally {
            nativeLock.readLock().unlock();
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
        nativeLock.readLock().lock();
        try {
            return progressLocked();
        } finally {
            nativeLock.readLock().unlock();
        }
    }

    private Progress progressLocked() {
        Metainfo m = metainfo;
        TorrentHandle h = handle;
        if (h == null || !h.isValid() || closed) {
            int done = seeder && m != null ? m.pieceCount() : 0;
            return new Progress(done, m == null ? 0 : m.pieceCount(), seeder && m != null ? m.totalSize() : 0,
                    m == null ? 0 : m.totalSize(), 0, 0, 0, hashFailures.get(), 0);
        }
        // forced: libtorrent4j's status() hands out a copy up to 500 ms old, and a second thread
        // asking within that time while the first copy is still being made got null (seen once in
        // the 30-run fault soak: a NullPointerException out of progress())
        TorrentStatus st = h.status(true);
        if (m == null) {
            return new Progress(0, 0, 0, 0, st.totalPayloadDownload(), st.totalPayloadUpload(), st.numPeers(), hashFailures.get(), 0);
        }
        return new Progress(st.numPieces(), m.pieceCount(), st.totalWantedDone(), m.totalSize(), st.totalPayloadDownload(),
                st.totalPayloadUpload(), st.numPeers(), hashFailures.get(), seeder ? 0 : piecesResumed.get());
    }

    /** Whether libtorrent said it verified the piece (see {@link #held}); asks nothing of libtorrent. */
    private boolean holds(int piece) {
        synchronized (held) {
            return held.get(piece);
        }
    }

    @Override
    public boolean havePiece(int piece) {
        nativeLock.readLock().lock();
        try {
            if (closed) {
                return finished; // the files stay; a finished fetch holds every piece
            }
            if (holds(piece)) {
                return true;
            }
            TorrentHandle h = handle;
            return h != null && metainfo != null && h.isValid() && h.havePiece(piece);
        } finally {
            nativeLock.readLock().unlock();
        }
    }

    /**
     * Gives every piece a reader waits for a deadline, {@value #DEADLINE_STEP_MS} ms apart: the
     * newly asked for first, then those asked for before, in their order. libtorrent requests
     * pieces with deadlines before any other ("time-critical" pieces, from the peers that answer
     * soonest). When its list of them goes from empty to not empty, it cancels every request under
     * way for other pieces, which gets the first ones past the requests queued at the seed
     * (measured with deep queues: without it, the last 6 of 64 pieces asked for at the start
     * arrived after 25 and 42 others). Later pieces move the deadlines already set instead of
     * clearing them and starting the list over: the blocks already on their way when a request is
     * cancelled are dropped on arrival and asked for again. Eight hosts streaming a Debian guest
     * (a reader misses 16-24 times), the list started over at each miss: the initial seed sent 15-27
     * MB of the 139 MB of the boot profile's pieces twice, 1-2 s of its uplink; moved, 1 MB.
     */
    @Override
    public void fetchFirst(List<Integer> pieces) {
        onLiveHandle(h -> {
            synchronized (wanted) {
                wanted.removeIf(this::holds);
                java.util.LinkedHashSet<Integer> fresh = new java.util.LinkedHashSet<>();
                for (int piece : pieces) {
                    if (!wanted.contains(piece) && !holds(piece)) {
                        fresh.add(piece);
                    }
                }
                if (!fresh.isEmpty()) {
                    // the new pieces first, then those asked for before, in their order
                    fresh.addAll(wanted);
                    setDeadlines(h, fresh);
                }
            }
        });
    }

    /** Runs {@code action} on the handle under the native read lock, unless closed or without metadata yet. */
    private void onLiveHandle(java.util.function.Consumer<TorrentHandle> action) {
        nativeLock.readLock().lock();
        try {
            TorrentHandle h = handle;
            if (!closed && h != null && metainfo != null && h.isValid()) {
                action.accept(h);
            }
        } finally {
            nativeLock.readLock().unlock();
        }
    }

    /**
     * Every fetch of a bundle with a boot profile wants the profile's pieces first, in the same
     * order, at the same time: asked for as deadlines by all of them, each left the seed once per
     * fetch, the seed's upload split among them (measured on 8 hosts: 643 MiB sent while the hosts
     * held 157 MiB of distinct pieces between them). So a fetch asks for its share only
     * ({@link PieceStripes#share}: every n-th profile piece), after what readers wait for; the
     * pieces of the others' shares arrive from them when a reader asks, or in the swarm's order.
     * Alone, its share is the whole profile.
     */
    @Override
    public void prefetch(List<Integer> pieces) {
        onLiveHandle(h -> {
            synchronized (wanted) {
                profile = List.copyOf(pieces);
                profileSplit = null;
            }
            applyProfile(h);
        });
    }

    /** Puts this fetch's share of the profile behind the readers' pieces, when its stripe changed. */
    private void applyProfile(TorrentHandle h) {
        synchronized (wanted) {
            PieceStripes s = stripes;
            String split = s == null ? "0/1" : s.rank() + "/" + s.count();
            if (profile == null || split.equals(profileSplit)) {
                return;
            }
            profileSplit = split;
            java.util.LinkedHashSet<Integer> next = new java.util.LinkedHashSet<>();
            for (int piece : wanted) {
                if (!profileShare.contains(piece) && !holds(piece)) {
                    next.add(piece); // a reader's
                }
            }
            profileShare.clear();
            for (int piece : s == null ? profile : s.share(profile)) {
                if (!holds(piece)) {
                    profileShare.add(piece);
                    next.add(piece);
                }
            }
            setDeadlines(h, next);
            LOG.debug("{}: boot profile share {} of its {} pieces (stripe {})", name(), profileShare.size(), profile.size(),
                    split);
        }
    }

    /**
     * The wanted pieces are now {@code pieces}, in that order, with deadlines that order; those no
     * longer wanted lose theirs. Never clears libtorrent's list (see {@link #fetchFirst}). Holds {@link #wanted}.
     */
    private void setDeadlines(TorrentHandle h, java.util.Collection<Integer> pieces) {
        java.util.List<Integer> order = new ArrayList<>(pieces);
        java.util.Set<Integer> kept = new java.util.HashSet<>(order);
        for (int piece : wanted) {
            if (!kept.contains(piece)) {
                h.resetPieceDeadline(piece);
            }
        }
        wanted.clear();
        wanted.addAll(order);
        int k = 0;
        for (int piece : order) {
            h.setPieceDeadline(piece, k++ * DEADLINE_STEP_MS);
        }
    }

    private static final int DEADLINE_STEP_MS = 10;

    /**
     * Waits for the piece's alert, looking again every 50 ms at most: libtorrent posts "piece
     * finished" when the piece passed its hash, and may report it held only once it is written.
     */
    @Override
    public boolean awaitPiece(int piece, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (!havePiece(piece)) {
            long left = end - System.nanoTime();
            if (left <= 0 || closed) {
                return havePiece(piece);
            }
            synchronized (pieceArrived) {
                pieceArrived.wait(Math.max(1, Math.min(50, TimeUnit.NANOSECONDS.toMillis(left))));
            }
        }
        return true;
    }

    @Override
    public void awaitCompletion(Duration timeout) throws TimeoutException, InterruptedException {
        watch.await(this, new SessionWatch.State() {
            @Override
            public boolean finished() {
                return finished;
            }

            @Override
            public RuntimeException failure() {
                return failure;
            }

            @Override
            public boolean closed() {
                return closed;
            }

            @Override
            public boolean clockRunning() {
                return !finishing; // every piece is here: no peer is needed any more
            }

            @Override
            public String awaited() {
                return metainfo == null ? "metadata" : "verified piece";
            }

            @Override
            public String sources() {
                return "trackers " + (metainfo != null ? metainfo.trackers() : magnet.trackers())
                        + (originsAdded ? ", origins " + options.origins() : "");
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
        nativeLock.writeLock().lock();
        // libtorrent4j's stop() sleeps 750 ms (ignoring an interrupt) for its alert thread to see the
        // session gone, then joins that thread anyway: an interrupt ends the sleep at once, the join
        // still waits. The sleep was most of the time after a fetch completed (0.76 s of 3.97 s for
        // 1 GiB on loopback).
        boolean interrupted = Thread.interrupted();
        try {
            Thread.currentThread().interrupt();
            session.stop(); // closes connections and files; pieces written so far stay in the .part files
        } catch (RuntimeException e) {
            LOG.debug("stopping the libtorrent session: {}", e.toString());
        } finally {
            Thread.interrupted(); // still set if stop() returned before its sleep
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            nativeLock.writeLock().unlock();
            if (trace != null) {
                trace.close();
            }
        }
    }
}
