package io.cowherd.distribution.nbd;

import io.cowherd.distribution.internal.BufferPool;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A read-only NBD server on a Unix domain socket, serving named exports to a bounded number of
 * clients, each on a platform thread of its own (reads run on a shared pool of workers). See the
 * package description for the part of the protocol it speaks. Clients reach it as
 * {@code nbd+unix:///NAME?socket=PATH}.
 *
 * <p>A client that breaks the protocol (bad magic, unknown flags, oversized options or writes) is
 * disconnected and logged; the server serves on. {@link #close()} stops accepting, drops every
 * connection and removes the socket file.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

    private final Path socket;
    private final Map<String, NbdExport> exports;
    private final NbdLimits limits;
    private final ServerSocketChannel listener;
    private final Semaphore clientSlots;
    private final Set<Wire> connections = ConcurrentHashMap.newKeySet();
    private final ExecutorService workers;
    /** Read replies' buffers: 64 of 1 MiB, which most reads fit. */
    private final BufferPool buffers = new BufferPool(64, 1 << 20);
    private final AtomicLong clientCount = new AtomicLong();
    private final Thread acceptor;
    private volatile boolean closed;

    private NbdServer(Path socket, Map<String, NbdExport> exports, NbdLimits limits, ServerSocketChannel listener) {
        this.socket = socket;
        this.exports = exports;
        this.limits = limits;
        this.listener = listener;
        this.clientSlots = new Semaphore(limits.maxClients());
        AtomicLong workerCount = new AtomicLong();
        this.workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "nbd-read-" + workerCount.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.acceptor = new Thread(this::acceptLoop, "nbd-accept " + socket.getFileName());
        this.acceptor.setDaemon(true);
    }

    /**
     * Starts a server with {@link NbdLimits#defaults()}.
     *
     * @param socket where to listen; a stale socket file (nobody listening) is replaced
     * @param exports what to serve, names distinct
     * @return the running server
     * @throws NbdServerException if the socket cannot be bound or two exports share a name
     */
    public static NbdServer start(Path socket, List<NbdExport> exports) {
        return start(socket, exports, NbdLimits.defaults());
    }

    /**
     * Starts a server.
     *
     * @param socket where to listen; a stale socket file (nobody listening) is replaced
     * @param exports what to serve, names distinct
     * @param limits clients, payload and buffers
     * @return the running server
     * @throws NbdServerException if the socket cannot be bound or two exports share a name
     */
    public static NbdServer start(Path socket, List<NbdExport> exports, NbdLimits limits) {
        Map<String, NbdExport> byName = new LinkedHashMap<>();
        for (NbdExport e : exports) {
            if (byName.putIfAbsent(e.name(), e) != null) {
                throw new NbdServerException("two exports named '" + e.name() + "' for NBD socket " + socket);
            }
        }
        removeStaleSocket(socket);
        ServerSocketChannel listener;
        try {
            listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                listener.bind(UnixDomainSocketAddress.of(socket));
            } catch (IOException | RuntimeException e) {
                listener.close();
                throw e;
            }
        } catch (IOException e) {
            throw new NbdServerException("cannot listen on NBD socket " + socket + ": " + e, e);
        }
        NbdServer server = new NbdServer(socket, Collections.unmodifiableMap(byName), limits, listener);
        server.acceptor.start();
        LOG.info("NBD server on {}: exports {}", socket, byName.keySet());
        return server;
    }

    /** A socket file left by a process that died is removed; one somebody listens on is an error. */
    private static void removeStaleSocket(Path socket) {
        if (!Files.exists(socket)) {
            return;
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException refused) {
            try {
                Files.delete(socket);
                LOG.info("removed stale NBD socket {}", socket);
                return;
            } catch (IOException e) {
                throw new NbdServerException("cannot remove stale NBD socket " + socket + ": " + e, e);
            }
        }
        throw new NbdServerException("NBD socket " + socket + " is in use by another server");
    }

    /**
     * @return the clients connected now; a client that left counts until its connection's thread
     *     has seen it go
     */
    public int clients() {
        return limits.maxClients() - clientSlots.availablePermits();
    }

    /** @return the socket path clients connect to */
    public Path socket() {
        return socket;
    }

    /** @return the exports served, by name, in the order given */
    public Map<String, NbdExport> exports() {
        return exports;
    }

    /**
     * @param export an export's name
     * @return the URI QEMU and libnbd tools take for it
     */
    public String uri(String export) {
        return uri(socket, export);
    }

    /**
     * @param socket a server's socket
     * @param export an export's name
     * @return the URI QEMU and libnbd tools take for that export
     */
    public static String uri(Path socket, String export) {
        return "nbd+unix:///" + export + "?socket=" + socket;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                LOG.warn("NBD socket {}: accept failed: {}", socket, e.toString());
                continue;
            }
            String client = "#" + clientCount.incrementAndGet();
            if (!clientSlots.tryAcquire()) {
                LOG.warn("NBD socket {}: client {} refused, {} clients already served", socket, client,
                        limits.maxClients());
                new Wire(ch).close();
                continue;
            }
            Wire wire = new Wire(ch);
            connections.add(wire);
            Thread t = new Thread(() -> serve(wire, client), "nbd-client-" + client.substring(1));
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(Wire wire, String client) {
        try {
            OptionHaggling haggling = new OptionHaggling(wire, exports, limits.maxPayload(), client);
            NbdExport export = haggling.negotiate();
            if (export != null) {
                LOG.debug("client {} reads export '{}' (structured replies: {})", client, export.name(),
                        haggling.structuredReplies());
                new Transmission(wire, export, limits, workers, buffers, client, haggling.structuredReplies()).serve();
            }
        } catch (NbdProtocolException e) {
            LOG.warn("NBD socket {}: dropping client: {}", socket, e.getMessage());
        } catch (IOException e) {
            LOG.debug("client {} gone: {}", client, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("NBD socket {}: client {} failed", socket, client, e);
        } finally {
            wire.close();
            connections.remove(wire);
            clientSlots.release();
        }
    }

    /** Stops accepting, drops every connection, and removes the socket file. Sources stay open. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            listener.close();
        } catch (IOException e) {
            LOG.debug("closing NBD socket {}: {}", socket, e.toString());
        }
        for (Wire w : new ArrayList<>(connections)) {
            w.close();
        }
        workers.shutdown(); // not shutdownNow: an interrupt closes a FileChannel a source reads with
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(5));
            workers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.warn("cannot remove NBD socket {}: {}", socket, e.toString());
        }
        LOG.info("NBD server on {} closed", socket);
    }
}
