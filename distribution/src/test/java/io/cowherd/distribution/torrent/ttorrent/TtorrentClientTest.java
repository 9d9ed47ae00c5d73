package io.cowherd.distribution.torrent.ttorrent;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.turn.ttorrent.client.Client;
import com.turn.ttorrent.client.peer.SharingPeer;
import io.cowherd.distribution.torrent.EngineTuning;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.OpenResources;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.SwarmFixture;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.lang.reflect.Field;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The ttorrent client as {@link TtorrentEngine} builds it, against what ttorrent 1.5 gets wrong by timing. */
@Timeout(120)
class TtorrentClientTest {
    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    /**
     * ttorrent registers the torrent as a new peer's listener only after the connection's receive
     * thread has started. Under load that thread can read the peer's BITFIELD first (seen in the
     * fault tests: "63 of 64 pieces held", a receive thread ended by a NullPointerException). Here
     * the client's bookkeeping of a new connection is held until the receive thread has read the
     * seed's BITFIELD, so that interleaving happens every time: the lone seed's pieces must still
     * reach the torrent, and the fetch complete.
     */
    @Test
    void aPeersFirstMessagesReachTheTorrentEvenWhenReadBeforeTheConnectionIsRecorded() throws Exception {
        TtorrentEngine engine = new TtorrentEngine();
        EmbeddedTracker tracker = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/golden.raw"), 2L << 20, 5);
        Metainfo m = Metainfo.create(data, List.of(tracker.announceUrl()), 256 << 10, "test");
        tracker.track(m);
        open.keep(engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host())));

        java.nio.file.Files.createDirectories(tmp.resolve("peer"));
        CowherdSharedTorrent torrent = new CowherdSharedTorrent(m, tmp.resolve("peer").toFile(), false, true,
                EngineTuning.DEFAULT.requestPipeline());
        open.keep(torrent::close);
        Client client = TtorrentEngine.newClient(SwarmFixture.host(), torrent);
        holdNewConnectionsUntilTheirBitfieldIsRead(client);
        client.share(0);
        open.keep(() -> client.stop(true));

        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!(torrent.isInitialized() && torrent.isFinished()) && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertTrue(torrent.isInitialized() && torrent.isFinished(), "the fetch stalled with "
                + (torrent.isInitialized() ? torrent.getCompletedPieces().cardinality() : 0) + " of " + m.pieceCount()
                + " pieces, though the seed was connected");
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("peer/golden.raw")));
    }

    /**
     * ttorrent's handleNewPeerConnection binds the channel (starting its receive thread), records
     * the peer in {@code connected}, then registers the torrent as the peer's listener. The map
     * swapped in here makes that record wait until the receive thread has read and dispatched the
     * peer's BITFIELD.
     */
    private static void holdNewConnectionsUntilTheirBitfieldIsRead(Client client) throws ReflectiveOperationException {
        Field f = Client.class.getDeclaredField("connected");
        f.setAccessible(true);
        @SuppressWarnings("unchecked")
        ConcurrentMap<String, SharingPeer> old = (ConcurrentMap<String, SharingPeer>) f.get(client);
        ConcurrentMap<String, SharingPeer> held = new ConcurrentHashMap<>(old) {
            @Override
            public SharingPeer put(String key, SharingPeer peer) {
                long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (peer.getAvailablePieces().isEmpty() && System.nanoTime() < end) {
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
                }
                synchronized (peer) {
                    // the receive thread handles a message under this lock: the BITFIELD is dispatched
                }
                return super.put(key, peer);
            }
        };
        f.set(client, held);
    }
}
