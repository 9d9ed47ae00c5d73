package io.cowherd.distribution.torrent.ttorrent;


import com.turn.ttorrent.client.Piece;
import com.turn.ttorrent.client.SharedTorrent;
import com.turn.ttorrent.client.peer.SharingPeer;
import com.turn.ttorrent.client.storage.TorrentByteStorage;
import io.cowherd.distribution.torrent.Metainfo;
import java.io.File;
import java.io.IOException;
import java.lang.reflect.Field;
import java.util.BitSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ttorrent 1.5's {@link SharedTorrent} with these routes around what its source shows (its accept
 * loop is routed around in {@link SafeAcceptor}):
 * <ul>
 *   <li><b>TCP_NODELAY on every peer connection</b> (see {@link #tune}) and a <b>deeper request
 *   pipeline</b> (see {@link #deepenPipeline}): 2.1 MB/s for a pair in one
 *   JVM became 19 MB/s with the first and 54-59 MB/s with both (the cowherd command, two JVMs,
 *   114-207 MB/s).</li>
 *   <li><b>No hashing of a target that does not exist yet.</b> {@code SharedTorrent.init()} hashes
 *   every piece of the (new, sparse, all-zero) {@code .part} file before the client announces: 7 s
 *   for 256 MiB, minutes for 20 GB, for a result known in advance (no piece is held). When the
 *   caller knows the target is fresh, {@link #init()} builds the piece table without reading.</li>
 *   <li><b>No end-game</b>, but requests that died are released (see {@link #releaseStaleRequests}).
 *   Past 95 % ttorrent requests pieces already requested from another peer,
 *   but a {@link Piece} has one shared block buffer that {@code record()} resets whenever a block at
 *   offset 0 arrives and writes out when the last block arrives: two peers filling one piece mix or
 *   drop each other's blocks and the piece fails its hash (the ~5 % of pieces, "about a hundred"
 *   per 256 MiB run, seen failing on the testbed). {@link #handlePeerReady} only asks a peer for a
 *   piece no one else is fetching.</li>
 *   <li><b>Bad peers are dropped.</b> A peer whose pieces fail their hash twice is banned (by
 *   peer ID, else address): nothing more is requested from it and its connection is closed.</li>
 * </ul>
 */
final class CowherdSharedTorrent extends SharedTorrent {
    private static final Logger LOG = LoggerFactory.getLogger(CowherdSharedTorrent.class);
    private static final int BAN_AFTER_FAILURES = 2;
    /** Blocks of 16 KiB requested ahead from one peer ({@link io.cowherd.distribution.torrent.EngineTuning#requestPipeline()}). */
    private final int pipeline;
    private volatile int resumedPieces;

    private final Metainfo metainfo;
    private final boolean fresh;
    private final Map<String, Integer> failuresByAddress = new ConcurrentHashMap<>();
    private final Set<String> banned = ConcurrentHashMap.newKeySet();
    private final AtomicInteger hashFailures = new AtomicInteger();
    private final Map<Object, Boolean> tuned = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());
    private BitSet staleLastTick = new BitSet();
    private final Map<SharingPeer, Long> requestStarted = new ConcurrentHashMap<>();
    private static final long STALL_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(60);

    CowherdSharedTorrent(Metainfo metainfo, File parent, boolean seeder, boolean fresh, int pipeline)
            throws IOException, java.security.NoSuchAlgorithmException {
        super(metainfo.encoded(), parent, seeder);
        this.metainfo = metainfo;
        this.fresh = fresh;
        this.pipeline = pipeline;
    }

    int hashFailures() {
        return hashFailures.get();
    }

    Set<String> banned() {
        return Set.copyOf(banned);
    }

    /** Verified pieces the check of an interrupted fetch's data kept ({@link io.cowherd.distribution.torrent.Progress#resumedPieces()}). */
    int resumedPieces() {
        return resumedPieces;
    }

    @Override
    public synchronized void init() throws InterruptedException, IOException {
        if (!fresh || isSeeder()) {
            super.init();
            if (!isSeeder()) {
                resumedPieces = getCompletedPieces().cardinality();
                LOG.info("{}: {} verified pieces found on disk, kept", getName(), resumedPieces);
            }
            return;
        }
        try {
            TorrentByteStorage bucket = (TorrentByteStorage) field("bucket").get(this);
            int n = metainfo.pieceCount();
            Piece[] pieces = new Piece[n];
            for (int i = 0; i < n; i++) {
                pieces[i] = new Piece(bucket, i, (long) i * metainfo.pieceLength(), metainfo.pieceSize(i),
                        metainfo.pieceHash(i), false);
            }
            field("pieces").set(this, pieces);
            field("completedPieces").set(this, new BitSet(n));
            field("initialized").setBoolean(this, true);
            LOG.debug("{}: fresh target, {} pieces, nothing to hash", getName(), n);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("fast start unavailable on this ttorrent ({}); hashing the target instead", e.toString());
            super.init();
        }
    }

    private static Field field(String name) throws NoSuchFieldException {
        Field f = SharedTorrent.class.getDeclaredField(name);
        f.setAccessible(true);
        return f;
    }

    /**
     * ttorrent never sets TCP_NODELAY: its small REQUEST and HAVE messages then wait for Nagle's
     * algorithm against the other side's delayed ACK, which caps a pair at a few MB/s even on
     * loopback. Set it (and large socket buffers) on each peer connection the first time we see it.
     */
    private void tune(SharingPeer peer) {
        try {
            Object exchange = peerExchange().get(peer);
            if (exchange == null || tuned.containsKey(exchange)) {
                return;
            }
            java.lang.reflect.Field ch = exchange.getClass().getDeclaredField("channel");
            ch.setAccessible(true);
            java.nio.channels.SocketChannel channel = (java.nio.channels.SocketChannel) ch.get(exchange);
            channel.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
            tuned.put(exchange, Boolean.TRUE);
        } catch (ReflectiveOperationException | IOException | RuntimeException e) {
            LOG.debug("cannot tune the connection to {}: {}", peer, e.toString());
        }
    }

    private static Field peerExchange() throws NoSuchFieldException {
        Field f = SharingPeer.class.getDeclaredField("exchange");
        f.setAccessible(true);
        return f;
    }

    @Override
    public synchronized void handleBitfieldAvailability(SharingPeer peer, BitSet availablePieces) {
        tune(peer);
        super.handleBitfieldAvailability(peer, availablePieces);
    }

    @Override
    public synchronized void handlePieceAvailability(SharingPeer peer, Piece piece) {
        tune(peer);
        super.handlePieceAvailability(peer, piece);
    }

    @Override
    public synchronized void handlePieceSent(SharingPeer peer, Piece piece) {
        tune(peer);
        super.handlePieceSent(peer, piece);
    }

    /** A peer's identity for banning: its peer ID (stable for a client's life), else its address. */
    private static String key(SharingPeer p) {
        return p.hasPeerId() ? p.getHexPeerId() : p.getIp();
    }

    @Override
    public synchronized void handlePeerReady(SharingPeer peer) {
        tune(peer);
        if (banned.contains(key(peer))) {
            return;
        }
        if (peer.isDownloading()) {
            // #kick already asked this peer for a piece; a second "ready" (an UNCHOKE that arrives
            // after the kick, as libtorrent's do) would make ttorrent's downloadPiece throw and
            // kill the connection's receive thread, leaving a peer that is connected but dead
            return;
        }
        BitSet interesting = peer.getAvailablePieces();
        interesting.andNot(getCompletedPieces());
        interesting.andNot(getRequestedPieces());
        if (interesting.isEmpty()) {
            return; // no end-game: see the class comment
        }
        super.handlePeerReady(peer);
        if (peer.isDownloading()) {
            requestStarted.put(peer, System.nanoTime());
            deepenPipeline(peer);
        }
    }

    /**
     * ttorrent keeps 5 blocks (80 KiB) requested per peer (a constant compiled into
     * {@code SharingPeer}): a pair then moves 80 KiB per round trip through four threads. Swap
     * the request queue that {@code downloadPiece} just made for a deeper one and request the
     * rest of the piece at once (up to {@link #pipeline} blocks in flight).
     */
    private void deepenPipeline(SharingPeer peer) {
        try {
            Field lockField = SharingPeer.class.getDeclaredField("requestsLock");
            lockField.setAccessible(true);
            Field reqField = SharingPeer.class.getDeclaredField("requests");
            reqField.setAccessible(true);
            java.lang.reflect.Method next = SharingPeer.class.getDeclaredMethod("requestNextBlocks");
            next.setAccessible(true);
            synchronized (lockField.get(peer)) {
                @SuppressWarnings("unchecked")
                java.util.concurrent.BlockingQueue<Object> old = (java.util.concurrent.BlockingQueue<Object>) reqField.get(peer);
                if (old == null || old.remainingCapacity() + old.size() >= pipeline) {
                    return;
                }
                java.util.concurrent.LinkedBlockingQueue<Object> deep = new java.util.concurrent.LinkedBlockingQueue<>(pipeline);
                deep.addAll(old);
                reqField.set(peer, deep);
                next.invoke(peer);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("cannot deepen the request pipeline of {}: {}", peer, e.toString());
        }
    }

    /**
     * ttorrent asks a peer for a piece only on an event (unchoke, HAVE, piece done). Without
     * end-game, a piece whose request died with a peer would wait for an event that may never
     * come; so, periodically: peers that hold a request for too long are dropped (their request
     * is released), and every idle, unchoked peer with something we need is asked again.
     */
    void kick(java.util.Collection<SharingPeer> peers) {
        releaseStaleRequests(peers);
        for (SharingPeer p : peers) {
            // ttorrent's peer threads lock the peer, then the torrent: take them in that order
            synchronized (p) {
                synchronized (this) {
                    kickOne(p);
                }
            }
        }
    }

    /**
     * A piece stays marked "requested" after its request died: a peer that chokes us cancels its
     * requests but leaves the piece marked when it was not its current one, a peer that fails
     * mid-handshake never clears it. ttorrent's end-game hid that; without it, the last pieces
     * of a fetch could wait forever. A piece marked requested that no connected peer is
     * downloading, on two ticks in a row, is released for others to fetch.
     */
    private synchronized void releaseStaleRequests(java.util.Collection<SharingPeer> peers) {
        if (!isInitialized() || isComplete()) {
            return;
        }
        try {
            Field f = SharedTorrent.class.getDeclaredField("requestedPieces");
            f.setAccessible(true);
            BitSet requested = (BitSet) f.get(this);
            BitSet inFlight = new BitSet();
            for (SharingPeer p : peers) {
                Piece rp = p.getRequestedPiece();
                if (rp != null && p.isDownloading()) { // plain reads: no peer lock under the torrent lock
                    inFlight.set(rp.getIndex());
                }
            }
            BitSet stale = (BitSet) requested.clone();
            stale.andNot(inFlight);
            BitSet release = (BitSet) stale.clone();
            release.and(staleLastTick);
            if (!release.isEmpty()) {
                LOG.debug("releasing {} piece requests no peer is serving: {}", release.cardinality(), release);
                requested.andNot(release);
            }
            staleLastTick = stale;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("cannot release stale requests: {}", e.toString());
        }
    }

    private void kickOne(SharingPeer p) {
        if (!isInitialized() || isComplete()) {
            return;
        }
        long now = System.nanoTime();
        {
            try {
                if (!p.isConnected() || banned.contains(key(p))) {
                    return;
                }
                if (p.isDownloading()) {
                    Long since = requestStarted.get(p);
                    if (since != null && now - since > STALL_NANOS) {
                        LOG.info("dropping peer {}: a piece request has been pending for {} s", p.getIp(),
                                java.util.concurrent.TimeUnit.NANOSECONDS.toSeconds(now - since));
                        requestStarted.remove(p);
                        Thread t = new Thread(() -> p.unbind(true), "cowherd-drop");
                        t.setDaemon(true);
                        t.start();
                    }
                    return;
                }
                BitSet want = p.getAvailablePieces();
                want.andNot(getCompletedPieces());
                want.andNot(getRequestedPieces());
                if (want.isEmpty()) {
                    return;
                }
                if (!p.isInteresting()) {
                    p.interesting();
                }
                if (!p.isChoked()) {
                    handlePeerReady(p);
                }
            } catch (RuntimeException e) {
                LOG.debug("kick of {} failed: {}", p, e.toString());
            }
        }
    }

    @Override
    public synchronized void handlePieceCompleted(SharingPeer peer, Piece piece) throws IOException {
        super.handlePieceCompleted(peer, piece);
        if (!piece.isValid()) {
            hashFailures.incrementAndGet();
            int n = failuresByAddress.merge(key(peer), 1, Integer::sum);
            LOG.info("{} from {} failed its hash ({} failures from that peer)", piece, peer, n);
            if (n >= BAN_AFTER_FAILURES && banned.add(key(peer))) {
                LOG.warn("banning peer {}: {} pieces from it failed their hash", peer, n);
                Thread t = new Thread(() -> peer.unbind(true), "cowherd-ban");
                t.setDaemon(true);
                t.start();
            }
        }
    }
}
