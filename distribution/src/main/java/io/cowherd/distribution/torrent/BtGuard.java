package io.cowherd.distribution.torrent;

import bt.data.ChunkDescriptor;
import bt.data.ChunkVerifier;
import bt.data.LocalBitfield;
import bt.metainfo.TorrentId;
import bt.net.IPeerConnectionPool;
import bt.net.Peer;
import bt.net.buffer.BufferedData;
import bt.torrent.data.BlockRead;
import bt.torrent.data.BlockWrite;
import bt.torrent.data.DataWorker;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What cowherd adds to a bt session, between bt's peers and its disk worker: session-wide rate
 * limits (bt has none), banning of peers whose pieces fail their hash (bt only re-downloads), and
 * a seed that trusts its data instead of hashing it all before it starts.
 *
 * <p>Limits delay the disk work: a block received is written (and its network buffer released)
 * only when the download bucket allows, so the connection's buffer fills and TCP pushes back on
 * the sender; a block requested is read (and sent) only when the upload bucket allows.
 *
 * <p>Bans are by address: every peer that sent a block of a piece that failed its hash gets a
 * strike, and a peer with {@value #BAN_AFTER_FAILURES} strikes is disconnected, and disconnected
 * again whenever it reconnects.
 */
final class BtGuard {
    private static final Logger LOG = LoggerFactory.getLogger(BtGuard.class);
    static final int BAN_AFTER_FAILURES = 2;

    private final RateLimiter down;
    private final RateLimiter up;
    private final boolean trustData;
    private final AtomicInteger hashFailures = new AtomicInteger();
    private final Map<InetAddress, Integer> strikes = new ConcurrentHashMap<>();
    private final Set<InetAddress> banned = ConcurrentHashMap.newKeySet();
    private final Map<Integer, Set<InetAddress>> senders = new ConcurrentHashMap<>();
    private volatile Supplier<IPeerConnectionPool> pool = () -> null;
    private volatile boolean stopped;

    BtGuard(SessionOptions options, boolean trustData) {
        this.down = new RateLimiter(options.maxDownloadBytesPerSecond());
        this.up = new RateLimiter(options.maxUploadBytesPerSecond());
        this.trustData = trustData;
    }

    int hashFailures() {
        return hashFailures.get();
    }

    Set<InetAddress> banned() {
        return Set.copyOf(banned);
    }

    boolean isBanned(Peer peer) {
        return banned.contains(peer.getInetAddress());
    }

    /** The session is stopping: disk work delayed by a limit is dropped, not started on a closed worker. */
    void stop() {
        stopped = true;
    }

    /** {@code work} once {@code nanos} have passed; never, if the session stopped meanwhile. */
    private <T> CompletableFuture<T> later(long nanos, Supplier<CompletableFuture<T>> work) {
        return CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(nanos, TimeUnit.NANOSECONDS))
                .thenCompose(x -> stopped ? new CompletableFuture<T>() : work.get());
    }

    void connectionPool(Supplier<IPeerConnectionPool> p) {
        this.pool = p;
    }

    /** Drops every connection to {@code address} in {@code torrent}. */
    void disconnect(TorrentId torrent, InetAddress address) {
        IPeerConnectionPool p = pool.get();
        if (p != null) {
            p.visitConnections(torrent, c -> {
                if (address.equals(c.getRemotePeer().getInetAddress())) {
                    c.closeQuietly();
                }
            });
        }
    }

    private void pieceFailed(TorrentId torrent, int piece) {
        hashFailures.incrementAndGet();
        Set<InetAddress> from = senders.remove(piece);
        if (from == null) {
            return;
        }
        for (InetAddress a : from) {
            int n = strikes.merge(a, 1, Integer::sum);
            LOG.info("piece {} failed its hash; {} sent part of it ({} failures from that address)", piece,
                    a.getHostAddress(), n);
            if (n >= BAN_AFTER_FAILURES && banned.add(a)) {
                LOG.warn("banning peer {}: {} pieces it sent failed their hash", a.getHostAddress(), n);
                disconnect(torrent, a);
            }
        }
    }

    /** The verifier: bt's own, except that a seed's data is trusted without reading it. */
    ChunkVerifier verifier(ChunkVerifier bt) {
        return new ChunkVerifier() {
            @Override
            public boolean verify(List<ChunkDescriptor> chunks, LocalBitfield bitfield) {
                if (!trustData) {
                    return bt.verify(chunks, bitfield);
                }
                for (int i = 0; i < chunks.size(); i++) {
                    bitfield.markLocalPieceVerified(i);
                }
                return true;
            }

            @Override
            public boolean verify(ChunkDescriptor chunk) {
                return bt.verify(chunk);
            }

            @Override
            public boolean verifyIfPresent(ChunkDescriptor chunk) {
                return bt.verifyIfPresent(chunk);
            }
        };
    }

    /** The disk worker: bt's own, behind the rate limits and the strike count. */
    DataWorker dataWorker(DataWorker bt) {
        return new DataWorker() {
            @Override
            public CompletableFuture<BlockRead> addBlockRequest(TorrentId torrentId, Peer peer, int pieceIndex, int offset,
                    int length) {
                long wait = up.delayNanos(length);
                if (wait == 0) {
                    return bt.addBlockRequest(torrentId, peer, pieceIndex, offset, length);
                }
                return later(wait, () -> bt.addBlockRequest(torrentId, peer, pieceIndex, offset, length));
            }

            @Override
            public CompletableFuture<BlockWrite> addBlock(TorrentId torrentId, Peer peer, int pieceIndex, int offset,
                    BufferedData buffer) {
                senders.computeIfAbsent(pieceIndex, k -> ConcurrentHashMap.newKeySet()).add(peer.getInetAddress());
                long wait = down.delayNanos(buffer.length());
                CompletableFuture<BlockWrite> f = wait == 0 ? bt.addBlock(torrentId, peer, pieceIndex, offset, buffer)
                        : later(wait, () -> bt.addBlock(torrentId, peer, pieceIndex, offset, buffer));
                return f.thenApply(w -> {
                    w.getVerificationFuture().ifPresent(v -> v.thenAccept(ok -> {
                        if (ok) {
                            senders.remove(pieceIndex);
                        } else {
                            pieceFailed(torrentId, pieceIndex);
                        }
                    }));
                    return w;
                });
            }
        };
    }
}
