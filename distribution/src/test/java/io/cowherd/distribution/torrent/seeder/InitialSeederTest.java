package io.cowherd.distribution.torrent.seeder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cowherd.CowException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.NoPeerException;
import io.cowherd.distribution.torrent.OpenResources;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.SwarmFixture;
import io.cowherd.distribution.torrent.TorrentSession;
import io.cowherd.distribution.torrent.libtorrent.LibtorrentEngine;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The initial seed against real peers on loopback: libtorrent fetches (each on an address of its
 * own) and aria2; a fetch that goes away mid-transfer, data that changed on disk, and bytes that
 * are no BitTorrent at all.
 */
@Timeout(180)
class InitialSeederTest {
    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    private EmbeddedTracker tracker;

    private Metainfo torrentOf(Path data, int pieceLength) throws Exception {
        tracker = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
        Metainfo m = Metainfo.create(data, List.of(tracker.announceUrl()), pieceLength, "test");
        tracker.track(m);
        return m;
    }

    private TorrentSession fetch(Metainfo m, String into) {
        return open.keep(new LibtorrentEngine().fetch(m, tmp.resolve(into), SessionOptions.on(SwarmFixture.host())));
    }

    @Test
    void fetchesGetEveryPieceAndTheSeedSendsEachAboutOnce() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 24L << 20, 41);
        Metainfo m = torrentOf(data, 128 << 10);
        // slow enough that the fetches overlap, as hosts fetching one master at once do
        InitialSeeder seed = open.keep(InitialSeeder.start(m, tmp.resolve("seed"),
                SessionOptions.on(SwarmFixture.host()).withRateLimits(0, 16L << 20)));
        List<TorrentSession> fetches = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            fetches.add(fetch(m, "out" + i));
        }
        for (int i = 0; i < 4; i++) {
            fetches.get(i).awaitCompletion(WAIT);
            assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out" + i + "/disk.raw")), "fetch " + i);
        }
        assertTrue(seed.everyPieceSent());
        long sent = seed.progress().uploaded();
        // a seed that offers everything to everyone sends each piece to most of the four fetches
        assertTrue(sent >= m.totalSize() && sent < m.totalSize() * 3 / 2,
                "the seed sent " + sent + " bytes for " + m.totalSize());
    }

    @Test
    void aria2FetchesFromTheInitialSeedTogetherWithLibtorrent() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/aria2c")), "aria2c is not installed (scripts/install-test-peers.sh)");
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 8L << 20, 43);
        Metainfo m = torrentOf(data, 256 << 10);
        Path torrent = tmp.resolve("disk.torrent");
        m.save(torrent);
        open.keep(InitialSeeder.start(m, tmp.resolve("seed"), SessionOptions.on(InetAddress.getLoopbackAddress())));
        TorrentSession lt = fetch(m, "lt");
        Path out = Files.createDirectories(tmp.resolve("aria"));
        Process aria = new ProcessBuilder("aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                "--enable-peer-exchange=false", "--listen-port=" + SwarmFixture.freePort(), "--bt-tracker-interval=1",
                "--console-log-level=warn", "--summary-interval=0", "--file-allocation=none", "--bt-require-crypto=false",
                "--disable-ipv6=true", "--seed-time=0", "--dir=" + out, torrent.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("aria2.log").toFile()).start();
        try {
            assertTrue(aria.waitFor(90, TimeUnit.SECONDS), "aria2 finished");
            assertEquals(0, aria.exitValue(), Files.readString(tmp.resolve("aria2.log")));
        } finally {
            aria.destroy();
        }
        lt.awaitCompletion(WAIT);
        assertTrue(SwarmFixture.sameBytes(data, out.resolve("disk.raw")));
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("lt/disk.raw")));
    }

    /** A boot profile's pieces (here the last four, backwards) leave the seed before the others. */
    @Test
    void piecesGivenFirstArriveFirst() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 8L << 20, 48);
        Metainfo m = torrentOf(data, 128 << 10);
        int last = m.pieceCount() - 1;
        List<Integer> first = List.of(last, last - 1, last - 2, last - 3);
        open.keep(InitialSeeder.start(m, tmp.resolve("seed"), SessionOptions.on(SwarmFixture.host()).withRateLimits(0, 1L << 20),
                first));
        TorrentSession fetch = fetch(m, "out");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (fetch.progress().piecesDone() < first.size() && System.nanoTime() < end) {
            Thread.sleep(5);
        }
        List<Integer> held = java.util.stream.IntStream.range(0, m.pieceCount()).filter(fetch::havePiece).boxed().toList();
        assertTrue(held.containsAll(first), "the four pieces given first came first: " + held);
        fetch.awaitCompletion(WAIT);
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out/disk.raw")));
    }

    @Test
    void piecesOfAFetchThatWentAwayAreSentAgain() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 16L << 20, 47);
        Metainfo m = torrentOf(data, 128 << 10);
        open.keep(InitialSeeder.start(m, tmp.resolve("seed"), SessionOptions.on(SwarmFixture.host()).withRateLimits(0, 4L << 20)));
        TorrentSession leaves = fetch(m, "leaves");
        TorrentSession stays = fetch(m, "stays");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (leaves.progress().piecesDone() < m.pieceCount() / 4 && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertTrue(leaves.progress().piecesDone() >= m.pieceCount() / 4, "the leaving fetch got a quarter first");
        leaves.close(); // with pieces only it had, and pieces still on their way to it
        stays.awaitCompletion(WAIT);
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("stays/disk.raw")));
    }

    @Test
    void aSeedRestartedMidTransferSendsOnlyWhatTheSwarmLacks() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 16L << 20, 67);
        Metainfo m = torrentOf(data, 128 << 10);
        InetAddress seedHost = SwarmFixture.host();
        SessionOptions seedOptions = SessionOptions.on(seedHost).withRateLimits(0, 4L << 20);
        InitialSeeder first = InitialSeeder.start(m, tmp.resolve("seed"), seedOptions);
        TorrentSession a = fetch(m, "a");
        TorrentSession b = fetch(m, "b");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (a.progress().piecesDone() + b.progress().piecesDone() < m.pieceCount() / 2 && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        first.close();
        long before = first.progress().uploaded();
        assertTrue(before < m.totalSize(), "stopped mid-transfer, after " + before + " bytes");
        InitialSeeder second = open.keep(InitialSeeder.start(m, tmp.resolve("seed"), seedOptions));
        a.awaitCompletion(WAIT);
        b.awaitCompletion(WAIT);
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("a/disk.raw")));
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("b/disk.raw")));
        long after = second.progress().uploaded();
        assertTrue(before + after < m.totalSize() * 3 / 2, "the two seeds sent " + before + " + " + after + " bytes for "
                + m.totalSize());
    }

    @Test
    void dataThatChangedOnDiskIsNotServedAndTheSeedSaysWhich() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 2L << 20, 53);
        Metainfo m = torrentOf(data, 256 << 10);
        InitialSeeder seed = open.keep(InitialSeeder.start(m, tmp.resolve("seed"), SessionOptions.on(SwarmFixture.host())));
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {42}), 5L * (256 << 10) + 7); // piece 5
        }
        TorrentSession f = open.keep(new LibtorrentEngine().fetch(m, tmp.resolve("out"),
                SessionOptions.on(SwarmFixture.host()).withNoPeerTimeout(Duration.ofSeconds(5))));
        assertThrows(NoPeerException.class, () -> f.awaitCompletion(WAIT));
        CowException e = assertThrows(CowException.class, () -> seed.awaitCompletion(Duration.ZERO));
        assertTrue(e.getMessage().contains("piece 5 (" + data + " at byte " + 5 * (256 << 10) + ")"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("out/disk.raw")), "no file under its final name");
        assertTrue(f.progress().piecesDone() < m.pieceCount());
    }

    @Test
    void bytesThatAreNoBitTorrentAreDroppedAndTheSeedServesOn() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 1L << 20, 59);
        Metainfo m = torrentOf(data, 256 << 10);
        InitialSeeder seed = open.keep(InitialSeeder.start(m, tmp.resolve("seed"), SessionOptions.on(SwarmFixture.host())));
        // not a handshake
        try (Socket s = new Socket(seed.listenAddress().getAddress(), seed.listenAddress().getPort())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(new byte[68]);
            assertEquals(-1, s.getInputStream().read(), "closed");
        }
        // a handshake, then a message claiming to be 2 GB long
        try (Socket s = new Socket(seed.listenAddress().getAddress(), seed.listenAddress().getPort())) {
            s.setSoTimeout(5000);
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            out.writeByte(19);
            out.write("BitTorrent protocol".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.write(new byte[8]);
            out.write(m.infoHash());
            out.write(new byte[20]);
            out.writeInt(Integer.MAX_VALUE);
            out.flush();
            DataInputStream in = new DataInputStream(s.getInputStream());
            in.readFully(new byte[68]); // its handshake
            int r;
            do {
                r = in.read();
            } while (r >= 0); // an unchoke, HAVEs, then the end
        }
        TorrentSession f = fetch(m, "out");
        f.awaitCompletion(WAIT);
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out/disk.raw")));
    }

    /**
     * Two racks on loopback (all of 127/8 is local): the seed and a peer in 127.0.1.0/24, another
     * peer in 127.0.2.0/24. While the near peer draws pieces (one of 16 KiB every 60 ms at the
     * seed's 256 KiB/s), the far one is offered none, though it asks as long; once the near peer
     * left, the far one is offered new pieces within the seed's next offers (every 250 ms).
     */
    @Test
    void newPiecesGoToThePeersOfTheSeedsRackFirst() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 4L << 20, 67);
        Metainfo m = torrentOf(data, 16 << 10);
        InetAddress seedHost = SwarmFixture.host();
        InitialSeeder seed = open.keep(InitialSeeder.start(m, tmp.resolve("seed"), SessionOptions.on(seedHost)
                .withRateLimits(0, 256 << 10)));
        InetAddress farHost = InetAddress.getByName("127.0.2." + (seedHost.getAddress()[3] & 0xff));
        Socket near = open.keep(wirePeer(seed, SwarmFixture.host(), m));
        Thread drawing = new Thread(() -> drawEveryOfferedPiece(near, m), "near-peer");
        drawing.setDaemon(true);
        drawing.start();
        try (Socket far = wirePeer(seed, farHost, m)) {
            DataInputStream in = new DataInputStream(far.getInputStream());
            far.setSoTimeout(100);
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
            List<Integer> haves = new ArrayList<>();
            while (System.nanoTime() < end) {
                int id = readMessageOrTimeout(in);
                if (id == 4) {
                    haves.add(id);
                }
            }
            assertTrue(drawing.isAlive(), "the near peer still draws");
            assertEquals(List.of(), haves, "the far peer was offered pieces while the near one took them");
            near.close();
            far.setSoTimeout(5000);
            int id;
            do {
                id = readMessageOrTimeout(in);
            } while (id != 4 && id != -2);
            assertEquals(4, id, "no piece offered to the far peer after the near one left");
        }
    }

    /**
     * A request the peer cancels before its turn is not answered (libtorrent cancels requests under
     * way when a reader's deadline puts other pieces first, and asks for them again later: answering
     * both sent pieces twice); asked for again, it is.
     */
    @Test
    void aCancelledRequestIsNotAnswered() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 1L << 20, 71);
        Metainfo m = torrentOf(data, 16 << 10);
        InitialSeeder seed = open.keep(InitialSeeder.start(m, tmp.resolve("seed"), SessionOptions.on(SwarmFixture.host())));
        try (Socket s = wirePeer(seed, SwarmFixture.host(), m)) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            List<Integer> offered = new ArrayList<>();
            while (offered.size() < 2) { // at least two pieces are offered at once
                int[] message = readPieceOrHave(in);
                assertEquals(4, message[0], "a HAVE");
                offered.add(message[1]);
            }
            int kept = offered.get(0);
            int cancelled = offered.get(1);
            // both asked for, the second cancelled, in one write: the seed reads them all before it answers
            wireRequest(out, 6, kept, m);
            wireRequest(out, 6, cancelled, m);
            wireRequest(out, 8, cancelled, m);
            out.flush();
            s.setSoTimeout(1500);
            List<Integer> pieces = new ArrayList<>();
            for (int[] message = readPieceOrHave(in); message[0] != -2; message = readPieceOrHave(in)) {
                if (message[0] == 7) {
                    pieces.add(message[1]);
                }
            }
            assertEquals(List.of(kept), pieces, "only the request that was not cancelled is answered");
            wireRequest(out, 6, cancelled, m);
            out.flush();
            s.setSoTimeout(5000);
            int[] message;
            do {
                message = readPieceOrHave(in);
            } while (message[0] == 4);
            assertEquals(7, message[0], "asked for again, the piece comes");
            assertEquals(cancelled, message[1]);
        }
    }

    /** A REQUEST (6) or CANCEL (8) of a whole piece, in one block. */
    private static void wireRequest(DataOutputStream out, int id, int piece, Metainfo m) throws java.io.IOException {
        out.writeInt(13);
        out.writeByte(id);
        out.writeInt(piece);
        out.writeInt(0);
        out.writeInt((int) m.pieceSize(piece));
    }

    /** {id, piece} of the next HAVE (4) or PIECE (7), others skipped; {-2, -1} when none came in the socket's timeout. */
    private static int[] readPieceOrHave(DataInputStream in) throws java.io.IOException {
        while (true) {
            int length;
            try {
                length = in.readInt();
            } catch (java.net.SocketTimeoutException e) {
                return new int[] {-2, -1};
            }
            if (length == 0) {
                continue;
            }
            int id = in.readUnsignedByte();
            byte[] payload = new byte[length - 1];
            in.readFully(payload);
            if (id == 4 || id == 7) {
                return new int[] {id, ByteBuffer.wrap(payload).getInt()};
            }
        }
    }

    /** A peer at {@code from} that has shaken hands with {@code seed} (the seed's handshake read). */
    private static Socket wirePeer(InitialSeeder seed, InetAddress from, Metainfo m) throws Exception {
        Socket s = new Socket();
        s.bind(new java.net.InetSocketAddress(from, 0));
        s.connect(seed.listenAddress(), 5000);
        s.setSoTimeout(5000);
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeByte(19);
        out.write("BitTorrent protocol".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        out.write(new byte[8]);
        out.write(m.infoHash());
        out.write(new byte[20]);
        out.flush();
        new DataInputStream(s.getInputStream()).readFully(new byte[68]);
        return s;
    }

    /** Requests each piece the seed offers (HAVE) in one block, until the socket closes. */
    private static void drawEveryOfferedPiece(Socket s, Metainfo m) {
        try {
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            while (true) {
                int length = in.readInt();
                if (length == 0) {
                    continue;
                }
                int id = in.readUnsignedByte();
                byte[] payload = new byte[length - 1];
                in.readFully(payload);
                if (id == 4) {
                    int piece = ByteBuffer.wrap(payload).getInt();
                    out.writeInt(13);
                    out.writeByte(6);
                    out.writeInt(piece);
                    out.writeInt(0);
                    out.writeInt((int) m.pieceSize(piece));
                    out.flush();
                }
            }
        } catch (java.io.IOException e) {
            // closed: done
        }
    }

    /** The next message's id (its payload skipped); -1 for a keep-alive, -2 when none came in the socket's timeout. */
    private static int readMessageOrTimeout(DataInputStream in) throws java.io.IOException {
        int length;
        try {
            length = in.readInt();
        } catch (java.net.SocketTimeoutException e) {
            return -2;
        }
        if (length == 0) {
            return -1;
        }
        int id = in.readUnsignedByte();
        in.readFully(new byte[length - 1]);
        return id;
    }

    @Test
    void aTorrentWithoutAnHttpTrackerIsRefused() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/disk.raw"), 1L << 20, 61);
        Metainfo m = Metainfo.create(data, List.of(), 256 << 10, "test");
        UnsupportedFeatureException e = assertThrows(UnsupportedFeatureException.class,
                () -> InitialSeeder.start(m, tmp.resolve("seed"), SessionOptions.on(SwarmFixture.host())));
        assertTrue(e.getMessage().contains("HTTP tracker"), e.getMessage());
    }
}
