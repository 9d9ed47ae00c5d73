package io.cowherd.distribution.torrent.ttorrent;

import com.turn.ttorrent.client.Client;
import com.turn.ttorrent.client.ConnectionHandler;
import com.turn.ttorrent.client.Handshake;
import java.io.DataInputStream;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes over the accept loop of a ttorrent {@link Client}. ttorrent's {@code ConnectionHandler}
 * reads each incoming handshake on its single accept thread, blocking and without a timeout, and
 * sizes a buffer from the first byte it receives: a peer that opens with an encrypted (MSE)
 * handshake, as aria2 does, or any stray byte above 127 throws an unchecked exception that ends
 * the accept thread, and a peer that sends nothing stalls it. After that no peer can connect to
 * this client, while the port stays open. Here each handshake is read on a worker with a
 * timeout, checked (protocol string, info hash), answered, and handed to the client exactly as
 * ttorrent would hand it over; anything else is closed.
 */
final class SafeAcceptor {
    private static final Logger LOG = LoggerFactory.getLogger(SafeAcceptor.class);
    private static final int HANDSHAKE_TIMEOUT_MS = 10_000;
    private static final byte[] PROTOCOL = "BitTorrent protocol".getBytes(StandardCharsets.US_ASCII);

    private final Client client;
    private final byte[] infoHash;
    private volatile boolean running;
    private ServerSocketChannel server;
    private byte[] ourId;
    private ExecutorService workers;

    SafeAcceptor(Client client, byte[] infoHash) {
        this.client = client;
        this.infoHash = infoHash.clone();
    }

    boolean isRunning() {
        return running;
    }

    /**
     * Stops ttorrent's accept thread and starts ours, once ttorrent's connection handler is up.
     *
     * @return whether the takeover happened (false: try again later)
     */
    synchronized boolean takeOver() {
        if (running) {
            return true;
        }
        try {
            ConnectionHandler service = (ConnectionHandler) field(Client.class, "service").get(client);
            Thread thread = (Thread) field(ConnectionHandler.class, "thread").get(service);
            ServerSocketChannel ch = (ServerSocketChannel) field(ConnectionHandler.class, "channel").get(service);
            if (thread == null || ch == null || !ch.isOpen()) {
                return false; // not started yet
            }
            String id = (String) field(ConnectionHandler.class, "id").get(service);
            field(ConnectionHandler.class, "stop").setBoolean(service, true);
            this.server = ch;
            this.ourId = id.getBytes(StandardCharsets.ISO_8859_1);
            if (thread.isAlive()) {
                // wake ttorrent's thread out of accept() so it sees its stop flag
                try (SocketChannel poke = SocketChannel.open((InetSocketAddress) ch.getLocalAddress())) {
                    LOG.trace("poked {}", poke);
                }
                thread.join(5_000);
            }
            ch.configureBlocking(true); // ttorrent polls it non-blocking every 100 ms
            workers = Executors.newFixedThreadPool(4, r -> {
                Thread t = new Thread(r, "cowherd-handshake");
                t.setDaemon(true);
                return t;
            });
            running = true;
            Thread loop = new Thread(this::acceptLoop, "cowherd-accept");
            loop.setDaemon(true);
            loop.start();
            return true;
        } catch (ReflectiveOperationException | IOException | RuntimeException e) {
            LOG.debug("cannot take over ttorrent's accept loop: {}", e.toString());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    void stop() {
        running = false;
        if (workers != null) {
            workers.shutdownNow();
        }
    }

    private void acceptLoop() {
        while (running && server.isOpen()) {
            try {
                SocketChannel c = server.accept();
                if (c != null) {
                    workers.execute(() -> handshake(c));
                }
            } catch (IOException | java.util.concurrent.RejectedExecutionException e) {
                if (server.isOpen() && running) {
                    LOG.debug("accept failed: {}", e.toString());
                } else {
                    break;
                }
            }
        }
        running = false;
    }

    private void handshake(SocketChannel c) {
        try {
            c.configureBlocking(true);
            c.socket().setSoTimeout(HANDSHAKE_TIMEOUT_MS);
            DataInputStream in = new DataInputStream(c.socket().getInputStream());
            int len = in.readUnsignedByte();
            if (len != PROTOCOL.length) {
                throw new IOException("not a plain BitTorrent handshake (first byte " + len
                        + "; encrypted handshakes are not supported)");
            }
            byte[] rest = new byte[PROTOCOL.length + 8 + 20 + 20];
            in.readFully(rest);
            if (!Arrays.equals(rest, 0, PROTOCOL.length, PROTOCOL, 0, PROTOCOL.length)) {
                throw new IOException("not the BitTorrent protocol");
            }
            int at = PROTOCOL.length + 8;
            if (!Arrays.equals(rest, at, at + 20, infoHash, 0, 20)) {
                throw new IOException("handshake for another torrent");
            }
            byte[] peerId = Arrays.copyOfRange(rest, at + 20, at + 40);
            ByteBuffer ours = Handshake.craft(infoHash, ourId).getData();
            while (ours.hasRemaining()) {
                c.write(ours);
            }
            c.configureBlocking(false);
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            client.handleNewPeerConnection(c, peerId);
        } catch (IOException | RuntimeException e) {
            LOG.debug("refused incoming connection {}: {}", c, e.toString());
            try {
                c.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    private static Field field(Class<?> type, String name) throws NoSuchFieldException {
        Field f = type.getDeclaredField(name);
        f.setAccessible(true);
        return f;
    }
}
