package io.cowherd.distribution.torrent.seeder;

import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.distribution.internal.Addresses;
import io.cowherd.distribution.internal.BufferPool;
import io.cowherd.distribution.internal.Locality;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.Progress;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentSession;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A seed that sends every piece once: initial seeding, for the first seed of a master that many
 * hosts fetch at the same time (an origin seed's upload is what bounds such a swarm).
 *
 * <p>Why not libtorrent's seed: a seed that announces every piece to every peer is asked for pieces
 * that other peers already hold or are receiving (requests wait in its queue while the piece
 * spreads; peers with free slots ask it for common pieces). Traced on the namespace swarm, a sixth
 * to a third of its upload went to such duplicates. libtorrent's own super-seeding cannot start in
 * 2.0.6 (the first HAVE messages are dropped during the handshake) and libtorrent offers no way to
 * choose per peer what to announce or serve.
 *
 * <p>How: this speaks the peer wire protocol (BEP 3) as a seed only. It announces to each peer only
 * the pieces {@link PieceAssignment} gives it (a few at a time, more as they leave), serves requests
 * for those, and never downloads. Peers learn the rest from each other. New pieces go to peers in the
 * seed's rack first (see {@link PieceAssignment}), so in several racks each crosses between them
 * about once. Each piece is hashed before
 * it is first served: data that changed on disk is not served, and the session fails. Peers find it
 * through the torrent's HTTP trackers, which it announces to itself ({@link TrackerAnnouncer}); it
 * has no DHT and no metadata exchange (magnet links need another peer that has the metadata).
 */
public final class InitialSeeder implements TorrentSession {
    private static final Logger LOG = LoggerFactory.getLogger(InitialSeeder.class);
    private static final byte[] PROTOCOL = "BitTorrent protocol".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    /** The longest message accepted from a peer: a bitfield of the largest torrent, with room. */
    private static final int MAX_MESSAGE = 1 << 20;
    /** The longest block served (libtorrent and aria2 ask for 16 KiB). */
    private static final int MAX_BLOCK = 128 << 10;
    /** The most requests one peer may have waiting (libtorrent keeps up to 1,500 under way with cowherd's tuning). */
    private static final int MAX_QUEUED_REQUESTS = 8192;
    private static final int PORTS_TRIED = 200;
    /** Peers served at once (a thread each); more are turned away until some leave. */
    static final int MAX_PEERS = 200;

    private final Metainfo metainfo;
    private final SessionOptions options;
    private final List<Path> paths;
    private final List<FileChannel> files = new ArrayList<>();
    private final PieceAssignment assignment;
    private final BitSet verified = new BitSet();
    /** What pieces are read into to be hashed before they are first served: a few connections verify at once. */
    private final BufferPool pieceBuffers;
    private final byte[] peerId = peerId();
    private final ServerSocket server;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService timer;
    private final RateLimiter upLimit;
    private final AtomicLong uploaded = new AtomicLong();
    /**
     * Bytes of blocks sent again to a peer they had been sent to: its request was cancelled while
     * the block was under way, and the peer dropped it and asked again. Both log lines give it.
     */
    private final AtomicLong sentAgain = new AtomicLong();
    /** CANCEL messages received, for the requests still waiting here and those already answered. */
    private final AtomicLong cancels = new AtomicLong();
    /** Pieces sent in full to some peer; with {@link #firstBlockNanos}, for the log line when all have left once. */
    private final BitSet sentOnce = new BitSet();
    /** The pieces to send first (a boot profile's) not yet sent in full: a log line says when none is left. */
    private final BitSet firstNotSent = new BitSet();
    private volatile long firstBlockNanos;
    private final TrackerAnnouncer announcer;
    private volatile RuntimeException failure;
    private volatile boolean closed;

    private InitialSeeder(Metainfo metainfo, Path parent, SessionOptions options, List<Integer> first) throws IOException {
        this.metainfo = metainfo;
        this.pieceBuffers = new BufferPool(4, metainfo.pieceLength());
        this.options = options;
        this.assignment = new PieceAssignment(metainfo.pieceCount(), first);
        first.stream().filter(i -> i >= 0 && i < metainfo.pieceCount()).forEach(firstNotSent::set);
        this.upLimit = new RateLimiter(options.maxUploadBytesPerSecond());
        this.paths = metainfo.requireDataIn(parent);
        for (Path f : paths) {
            files.add(FileChannel.open(f, StandardOpenOption.READ));
        }
        this.server = listen(options);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "cowherd-seeder-timer"));
        this.announcer = new TrackerAnnouncer(metainfo, peerId, new InetSocketAddress(options.bindAddress(), server.getLocalPort()),
                uploaded::get);
    }

    /**
     * Starts seeding {@code metainfo}'s data under {@code parent}: listens on the bind address
     * (ports from {@value Addresses#FIRST_PEER_PORT} up), announces to the torrent's HTTP trackers
     * and serves peers until closed. Download limits and origins do not apply to a seed.
     *
     * @throws UnsupportedFeatureException if the torrent names no HTTP tracker (peers could not find this seed)
     */
    public static InitialSeeder start(Metainfo metainfo, Path parent, SessionOptions options) {
        return start(metainfo, parent, options, List.of());
    }

    /**
     * As {@link #start(Metainfo, Path, SessionOptions)}, sending the pieces {@code first} (a boot
     * profile's, {@code ProfilePieces.ofBundle}) before the others, in that order: a peer cannot ask
     * an initial seed for a piece it was not offered, so hosts that boot clones while the master
     * arrives would otherwise wait for their boot sets in index order.
     */
    public static InitialSeeder start(Metainfo metainfo, Path parent, SessionOptions options, List<Integer> first) {
        if (options.perPeerRateLimits() && options.maxUploadBytesPerSecond() > 0) {
            throw new UnsupportedFeatureException("the initial seeder limits its upload as a whole, not per peer connection "
                    + "(" + io.cowherd.distribution.torrent.EngineFeature.PEER_RATE_LIMITS + "); use SessionOptions.withRateLimits");
        }
        if (metainfo.trackers().stream().noneMatch(TrackerAnnouncer::speaks)) {
            throw new UnsupportedFeatureException("initial seeding announces to HTTP trackers only, and torrent "
                    + metainfo.name() + " names none; name one (--tracker, --embedded-tracker)");
        }
        InitialSeeder s;
        try {
            s = new InitialSeeder(metainfo, parent, options, first);
        } catch (IOException e) {
            throw CowIOException.wrap(parent, "opening the data of " + metainfo.name() + " in", e);
        }
        Thread acceptor = new Thread(s::acceptLoop, "cowherd-seeder-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        s.timer.scheduleAtFixedRate(s::tick, 250, 250, TimeUnit.MILLISECONDS);
        s.announcer.start();
        LOG.info("initial seeding {} ({} pieces) at {}", metainfo.name(), metainfo.pieceCount(), s.listenAddress());
        return s;
    }

    private static ServerSocket listen(SessionOptions options) throws IOException {
        IOException last = null;
        for (int port = Addresses.FIRST_PEER_PORT; port < Addresses.FIRST_PEER_PORT + PORTS_TRIED; port++) {
            ServerSocket s = new ServerSocket();
            try {
                s.bind(new InetSocketAddress(options.bindAddress(), port), 64);
                return s;
            } catch (IOException e) {
                s.close();
                last = e;
            }
        }
        throw new CowException("initial seeding could not listen on " + options.bindAddress().getHostAddress() + " ports "
                + Addresses.FIRST_PEER_PORT + "-" + (Addresses.FIRST_PEER_PORT + PORTS_TRIED - 1) + ": " + last);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    private static byte[] peerId() {
        byte[] id = new byte[20];
        byte[] prefix = "-CW0100-".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        new SecureRandom().nextBytes(id);
        System.arraycopy(prefix, 0, id, 0, prefix.length);
        return id;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket socket = server.accept();
                if (connections.size() >= MAX_PEERS) {
                    LOG.warn("turning {} away: already serving {} peers", socket.getRemoteSocketAddress(), MAX_PEERS);
                    socket.close();
                    continue;
                }
                Connection c = new Connection(socket);
                connections.add(c);
                daemon(c::run, "cowherd-seeder-" + socket.getRemoteSocketAddress()).start();
            } catch (IOException e) {
                if (!closed) {
                    LOG.debug("accept: {}", e.toString());
                }
            }
        }
    }

    /** Offers more pieces where a peer has few left to fetch from here. */
    private void tick() {
        long now = System.nanoTime();
        for (Connection c : connections) {
            c.offerMore(now);
        }
    }

    /** Reads {@code length} bytes at {@code offset} of the torrent's data, across file boundaries. */
    private void read(long offset, ByteBuffer into) throws IOException {
        List<Metainfo.FileEntry> entries = metainfo.files();
        for (int i = 0; i < entries.size() && into.hasRemaining(); i++) {
            Metainfo.FileEntry f = entries.get(i);
            long end = f.offset() + f.length();
            if (offset >= end || offset + into.remaining() <= f.offset()) {
                continue;
            }
            long at = offset - f.offset();
            int n = (int) Math.min(into.remaining(), end - offset);
            ByteBuffer part = into.slice().limit(n);
            while (part.hasRemaining()) {
                if (files.get(i).read(part, at + part.position()) < 0) {
                    throw new EOFException("file " + i + " of " + metainfo.name() + " is shorter than the torrent says");
                }
            }
            into.position(into.position() + n);
            offset += n;
        }
    }

    /** Hashes {@code piece} before it is first served: data that changed on disk is never sent. */
    private boolean verify(int piece) throws IOException {
        synchronized (verified) {
            if (verified.get(piece)) {
                return true;
            }
        }
        ByteBuffer data = pieceBuffers.take((int) metainfo.pieceSize(piece));
        boolean matches;
        try {
            read((long) piece * metainfo.pieceLength(), data);
            matches = metainfo.pieceMatches(piece, data.flip());
        } finally {
            pieceBuffers.give(data);
        }
        if (!matches) {
            failure = new CowException(metainfo.name() + ": piece " + piece + " (" + where(piece) + ") no longer matches its hash; "
                    + "the data changed after the torrent was made, so it is not served");
            LOG.error("{}", failure.getMessage());
            return false;
        }
        synchronized (verified) {
            verified.set(piece);
        }
        return true;
    }

    private void sentInFull(int piece) {
        synchronized (sentOnce) {
            if (sentOnce.get(piece)) {
                return;
            }
            sentOnce.set(piece);
            if (firstNotSent.get(piece)) {
                firstNotSent.clear(piece);
                if (firstNotSent.isEmpty()) {
                    LOG.info("{}: the pieces to send first have all left once, {} ms after the first block; {} bytes sent, {} of them again",
                            metainfo.name(), (System.nanoTime() - firstBlockNanos) / 1_000_000, uploaded.get(), sentAgain.get());
                }
            }
            if (sentOnce.cardinality() == metainfo.pieceCount()) {
                LOG.info("{}: every piece has left once, {} ms after the first block; {} bytes sent for {}, {} of them again",
                        metainfo.name(), (System.nanoTime() - firstBlockNanos) / 1_000_000, uploaded.get(), metainfo.totalSize(),
                        sentAgain.get());
            }
        }
    }

    /** Where {@code piece} starts on disk: "FILE at byte N". */
    private String where(int piece) {
        long offset = (long) piece * metainfo.pieceLength();
        List<Metainfo.FileEntry> entries = metainfo.files();
        for (int i = 0; i < entries.size(); i++) {
            Metainfo.FileEntry f = entries.get(i);
            if (offset < f.offset() + f.length()) {
                return paths.get(i) + " at byte " + (offset - f.offset());
            }
        }
        return "past the end of the data";
    }

    /** One peer: its reader thread answers its messages; the timer may offer it pieces too. */
    private final class Connection {
        private final Socket socket;
        /** Held while writing to the peer and while changing what it was sent or offered. */
        private final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
        private DataOutputStream out;
        /**
         * The KiB of each offered piece sent so far: a piece counts as sent when all are (asking for
         * one block again and again does not make a piece "sent" and earn more offers).
         */
        private final Map<Integer, BitSet> sentOfPiece = new HashMap<>();
        /** Pieces sent in full to this peer: a block of one sent again counts in {@link #sentAgain}. */
        private final BitSet piecesSent = new BitSet();
        /**
         * Requests read and not served yet, in order; only this connection's thread touches it. The
         * peer's CANCEL removes its request from here: libtorrent cancels the requests under way when a
         * reader's deadline puts other pieces first and asks for them again later, and answering both
         * sent a quarter of a boot profile twice (eight hosts streaming the Debian guest: 759 pieces
         * sent for its 610 before the hosts held it).
         */
        private final java.util.ArrayDeque<Request> requests = new java.util.ArrayDeque<>();
        private long rateWindowStart = System.nanoTime();
        private long rateWindowBytes;
        private double bytesPerSecond;

        Connection(Socket socket) {
            this.socket = socket;
        }

        void run() {
            try (socket) {
                socket.setTcpNoDelay(true);
                socket.setSendBufferSize(options.tuning().sendBufferBytes());
                socket.setSoTimeout(10_000); // a handshake comes at once
                DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 << 10));
                out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 64 << 10));
                lock.lock();
                try {
                    handshake(in);
                    socket.setSoTimeout(180_000); // then a keep-alive every two minutes at least
                    assignment.connected(this, near(), System.nanoTime());
                    writeMessage(1, new byte[0]); // unchoke: every peer may ask at once
                    offerLocked(System.nanoTime());
                    out.flush();
                } finally {
                    lock.unlock();
                }
                while (!closed) {
                    // every message that has arrived is read before the next block goes out, so a
                    // CANCEL reaches its request while it still waits
                    if (requests.isEmpty() || in.available() > 0) {
                        if (requests.isEmpty()) {
                            flush(); // nothing more to send until the peer speaks
                        }
                        readMessage(in);
                        continue;
                    }
                    Request next = requests.poll();
                    lock.lock();
                    try {
                        serve(next);
                        if (in.available() == 0) {
                            out.flush();
                        }
                    } finally {
                        lock.unlock();
                    }
                }
            } catch (EOFException | SocketException e) {
                LOG.debug("peer {} left: {}", socket.getRemoteSocketAddress(), e.toString());
            } catch (IOException | RuntimeException e) {
                LOG.info("dropping peer {}: {}", socket.getRemoteSocketAddress(), e.toString());
            } finally {
                assignment.disconnected(this);
                connections.remove(this);
            }
        }

        /**
         * Whether the peer is in the seed's rack, by the tracker's rule: the address it reached (the
         * bind address, or the one a wildcard bind answered on) against the peer's.
         */
        private boolean near() {
            return Locality.sameRack(socket.getLocalAddress(), socket.getInetAddress());
        }

        private void handshake(DataInputStream in) throws IOException {
            int pstrlen = in.readUnsignedByte();
            byte[] pstr = new byte[pstrlen];
            in.readFully(pstr);
            byte[] rest = new byte[48];
            in.readFully(rest);
            if (!Arrays.equals(pstr, PROTOCOL)) {
                throw new IOException("not a BitTorrent handshake");
            }
            if (!Arrays.equals(Arrays.copyOfRange(rest, 8, 28), metainfo.infoHash())) {
                throw new IOException("asked for another torrent");
            }
            out.writeByte(PROTOCOL.length);
            out.write(PROTOCOL);
            out.write(new byte[8]); // no extensions: no metadata exchange, no fast extension
            out.write(metainfo.infoHash());
            out.write(peerId);
        }

        /** Reads one message: a REQUEST or CANCEL changes the queue, the others are handled at once. */
        private void readMessage(DataInputStream in) throws IOException {
            int length = in.readInt();
            if (length < 0 || length > MAX_MESSAGE) {
                throw new IOException("message of " + length + " bytes");
            }
            if (length == 0) {
                return; // keep-alive
            }
            int id = in.readUnsignedByte();
            byte[] payload = new byte[length - 1];
            in.readFully(payload);
            if (id == 6 || id == 8) {
                if (payload.length != 12) {
                    throw new IOException((id == 6 ? "REQUEST" : "CANCEL") + " of " + payload.length + " bytes");
                }
                ByteBuffer b = ByteBuffer.wrap(payload);
                Request r = new Request(b.getInt(), b.getInt(), b.getInt());
                if (id == 8) {
                    cancels.incrementAndGet();
                    requests.remove(r);
                } else if (requests.size() >= MAX_QUEUED_REQUESTS) {
                    throw new IOException("more than " + MAX_QUEUED_REQUESTS + " requests waiting");
                } else {
                    requests.add(r);
                }
                return;
            }
            lock.lock();
            try {
                handle(id, payload);
            } finally {
                lock.unlock();
            }
        }

        private void flush() throws IOException {
            lock.lock();
            try {
                out.flush();
            } finally {
                lock.unlock();
            }
        }

        private void handle(int id, byte[] payload) throws IOException {
            long now = System.nanoTime();
            switch (id) {
                case 4 -> { // have
                    if (payload.length != 4) {
                        throw new IOException("HAVE of " + payload.length + " bytes");
                    }
                    assignment.has(this, ByteBuffer.wrap(payload).getInt(), now);
                    offerLocked(now);
                }
                case 5 -> { // bitfield: bit 7 of byte 0 is piece 0
                    BitSet bits = new BitSet();
                    for (int i = 0; i < Math.min(metainfo.pieceCount(), payload.length * 8); i++) {
                        if ((payload[i >> 3] & (0x80 >> (i & 7))) != 0) {
                            bits.set(i);
                        }
                    }
                    assignment.hasAll(this, bits, now);
                    offerLocked(now);
                }
                default -> {
                    // choke, unchoke, interested, not interested, port, extended: a seed that never
                    // downloads and always unchokes needs none of them (requests and cancels: read)
                }
            }
        }

        /** Answers a request (the caller holds the lock: the rate limit and the socket pace this peer only). */
        private void serve(Request request) throws IOException {
            int piece = request.piece();
            int begin = request.begin();
            int length = request.length();
            if (!assignment.mayRequest(this, piece)) {
                LOG.debug("peer {} asked for piece {}, which was not offered to it", socket.getRemoteSocketAddress(), piece);
                return;
            }
            if (begin < 0 || length <= 0 || length > MAX_BLOCK || (long) begin + length > metainfo.pieceSize(piece)) {
                throw new IOException("request for bytes " + begin + "+" + length + " of piece " + piece);
            }
            if (!verify(piece)) {
                throw new IOException("piece " + piece + " failed its hash on disk");
            }
            ByteBuffer block = ByteBuffer.allocate(length);
            read((long) piece * metainfo.pieceLength() + begin, block);
            long wait = upLimit.delayNanos(length);
            if (wait > 0) {
                try {
                    TimeUnit.NANOSECONDS.sleep(wait);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            }
            out.writeInt(9 + length);
            out.writeByte(7);
            out.writeInt(piece);
            out.writeInt(begin);
            out.write(block.array());
            if (uploaded.getAndAdd(length) == 0) {
                firstBlockNanos = System.nanoTime();
            }
            rateWindowBytes += length;
            BitSet sent = sentOfPiece.computeIfAbsent(piece, k -> new BitSet());
            if (piecesSent.get(piece) || sent.get(begin >> 10)) {
                sentAgain.addAndGet(length);
            }
            sent.set(begin >> 10, (begin + length + 1023) >> 10);
            if (sent.cardinality() >= (metainfo.pieceSize(piece) + 1023) >> 10) {
                sentOfPiece.remove(piece);
                piecesSent.set(piece);
                assignment.sent(this, piece, System.nanoTime());
                sentInFull(piece);
                offerLocked(System.nanoTime());
            }
        }

        /** From the timer: offers more unless the peer's thread is busy with it (it offers as it serves). */
        void offerMore(long now) {
            if (out == null || !lock.tryLock()) {
                return;
            }
            try {
                offerLocked(now);
                out.flush();
            } catch (IOException e) {
                LOG.debug("announcing to {}: {}", socket.getRemoteSocketAddress(), e.toString());
                close();
            } finally {
                lock.unlock();
            }
        }

        /**
         * Keeps about half a second of this peer's rate (at least two pieces) offered and not yet
         * sent, so its requests never wait for an announcement.
         */
        private void offerLocked(long now) throws IOException {
            long window = now - rateWindowStart;
            if (window > 500_000_000L) {
                double rate = rateWindowBytes * 1e9 / window;
                bytesPerSecond = bytesPerSecond == 0 ? rate : 0.5 * bytesPerSecond + 0.5 * rate;
                rateWindowStart = now;
                rateWindowBytes = 0;
            }
            int target = (int) Math.max(2, Math.min(64, Math.ceil(bytesPerSecond * 0.5 / metainfo.pieceLength())));
            BitSet offer = assignment.offer(this, target, now);
            for (int i = offer.nextSetBit(0); i >= 0; i = offer.nextSetBit(i + 1)) {
                writeMessage(4, ByteBuffer.allocate(4).putInt(i).array());
            }
        }

        private void writeMessage(int id, byte[] payload) throws IOException {
            out.writeInt(1 + payload.length);
            out.writeByte(id);
            out.write(payload);
        }

        void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    @Override
    public Metainfo metainfo() {
        return metainfo;
    }

    @Override
    public Progress progress() {
        return new Progress(metainfo.pieceCount(), metainfo.pieceCount(), metainfo.totalSize(), metainfo.totalSize(), 0,
                uploaded.get(), connections.size(), 0, 0);
    }

    @Override
    public InetSocketAddress listenAddress() {
        return new InetSocketAddress(options.bindAddress(), server.getLocalPort());
    }

    /** A seed holds everything: returns at once, unless the session failed. */
    @Override
    public void awaitCompletion(Duration timeout) {
        RuntimeException f = failure;
        if (f != null) {
            throw f;
        }
    }

    /**
     * CANCEL messages peers have sent this seed. libtorrent cancels every request under way that is
     * not for a time-critical piece each time its list of those goes from empty to not empty, and a
     * block already sent is then dropped on arrival and asked for again: the log lines give the
     * bytes sent again.
     */
    public long cancelsReceived() {
        return cancels.get();
    }

    /** Whether every piece has left this seed in full at least once (since it started). */
    public boolean everyPieceSent() {
        synchronized (sentOnce) {
            return sentOnce.cardinality() == metainfo.pieceCount();
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        announcer.stop();
        timer.shutdownNow();
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        for (Connection c : connections) {
            c.close();
        }
        for (FileChannel f : files) {
            try {
                f.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    /** A peer's REQUEST (or the CANCEL naming it): a block of a piece. */
    private record Request(int piece, int begin, int length) {
    }

}
