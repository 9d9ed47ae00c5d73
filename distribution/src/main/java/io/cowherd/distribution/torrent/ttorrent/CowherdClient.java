package io.cowherd.distribution.torrent.ttorrent;

import com.turn.ttorrent.client.Client;
import com.turn.ttorrent.client.SharedTorrent;
import com.turn.ttorrent.client.peer.SharingPeer;
import com.turn.ttorrent.common.Peer;
import java.io.IOException;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ttorrent 1.5's {@link Client}, with a peer's listeners registered before its connection starts.
 * ttorrent's {@code handleNewPeerConnection} binds the channel, which starts the connection's
 * receive thread, and only then registers the torrent as the peer's listener. A message read in
 * between is lost to the torrent, or its listener set is modified while that thread iterates it:
 * <ul>
 *   <li>a lost BITFIELD leaves the peer's pieces out of the torrent's rarest-first set; when the
 *   pieces still wanted are only there (a seed's, at the end of a fetch), ttorrent's piece choice
 *   finds nothing and {@code SharedTorrent.handlePeerReady} throws a NullPointerException, which
 *   ends the receive thread: the connection stays open and dead ("63 of 64 pieces held", "one
 *   peer connected and no piece");</li>
 *   <li>a ConcurrentModificationException ends the receive thread the same way; on a seed, that
 *   peer then counts as connected forever and each of its reconnections is closed as "already
 *   connected" (a fetch with 0 peers connected).</li>
 * </ul>
 * Registering both listeners first makes ttorrent's own registrations no-ops.
 */
final class CowherdClient extends Client {
    private static final Logger LOG = LoggerFactory.getLogger(CowherdClient.class);
    private static final Method GET_OR_CREATE_PEER = getOrCreatePeer();

    private final SharedTorrent torrent;

    CowherdClient(InetAddress address, SharedTorrent torrent) throws IOException {
        super(address, torrent);
        this.torrent = torrent;
    }

    @Override
    public void handleNewPeerConnection(SocketChannel channel, byte[] peerId) {
        if (GET_OR_CREATE_PEER != null) {
            // the same lookup ttorrent's handleNewPeerConnection makes, which then finds this peer
            Peer search = new Peer(channel.socket().getInetAddress().getHostAddress(), channel.socket().getPort(),
                    peerId != null ? ByteBuffer.wrap(peerId) : null);
            try {
                SharingPeer peer = (SharingPeer) GET_OR_CREATE_PEER.invoke(this, search);
                synchronized (peer) { // as ttorrent registers the client: under the peer's lock
                    peer.register(this);
                    peer.register(torrent);
                }
            } catch (ReflectiveOperationException | RuntimeException e) {
                LOG.warn("cannot register the listeners of {} before connecting: {}", search, e.toString());
            }
        }
        super.handleNewPeerConnection(channel, peerId);
    }

    private static Method getOrCreatePeer() {
        try {
            Method m = Client.class.getDeclaredMethod("getOrCreatePeer", Peer.class);
            m.setAccessible(true);
            return m;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("this ttorrent has no Client.getOrCreatePeer ({}); peers' first messages may be lost", e.toString());
            return null;
        }
    }
}
