package io.cowherd.distribution.torrent.origin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.cowherd.CowException;
import io.cowherd.distribution.internal.Addresses;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The origin a fetch falls back to when the swarm stalls: a read-only HTTP server for the files
 * under one directory, with the single byte ranges BitTorrent web seeds (BEP 19) ask for. Only
 * regular files inside the directory are served (no listings, no symbolic links, nothing outside).
 * Give a fetch {@link #url()} as its origin: web seeds append the torrent's name to a URL ending
 * in {@code /}.
 */
public final class HttpOrigin implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HttpOrigin.class);
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d*)-(\\d*)");
    private static final int CHUNK = 1 << 20;

    private final Path root;
    private final HttpServer server;
    private final ExecutorService workers;
    private final URI url;

    private HttpOrigin(Path root, HttpServer server, ExecutorService workers) {
        this.root = root;
        this.server = server;
        this.workers = workers;
        InetSocketAddress a = server.getAddress();
        this.url = URI.create("http://" + Addresses.hostForUrl(a) + ":" + a.getPort() + "/");
    }

    /**
     * Serves the files under {@code root} at {@code address} (port 0 for any free port) until closed.
     *
     * @throws CowException if the address cannot be bound
     */
    public static HttpOrigin serve(Path root, InetSocketAddress address) {
        Path r = root.toAbsolutePath().normalize();
        if (!Files.isDirectory(r)) {
            throw new io.cowherd.NoSuchVolumeException(r + " is not a directory");
        }
        try {
            HttpServer server = HttpServer.create(address, 64);
            ExecutorService workers = Executors.newFixedThreadPool(8, t -> {
                Thread th = new Thread(t, "cowherd-origin");
                th.setDaemon(true);
                return th;
            });
            HttpOrigin o = new HttpOrigin(r, server, workers);
            server.createContext("/", o::handle);
            server.setExecutor(workers);
            server.start();
            LOG.info("HTTP origin for {} at {}", r, o.url);
            return o;
        } catch (IOException e) {
            throw new CowException("cannot serve " + r + " over HTTP at " + address + ": " + e.getMessage(), e);
        }
    }

    /** The URL of the served directory, ending in {@code /}. */
    public URI url() {
        return url;
    }

    private void handle(HttpExchange x) throws IOException {
        try (x) {
            String method = x.getRequestMethod();
            if (!"GET".equals(method) && !"HEAD".equals(method)) {
                x.sendResponseHeaders(405, -1);
                return;
            }
            Path file = resolve(x.getRequestURI().getPath());
            if (file == null) {
                x.sendResponseHeaders(404, -1);
                return;
            }
            long size = Files.size(file);
            long from = 0;
            long to = size - 1;
            String range = x.getRequestHeaders().getFirst("Range");
            int status = 200;
            if (range != null) {
                Matcher m = RANGE.matcher(range.trim());
                if (!m.matches() || m.group(1).isEmpty() && m.group(2).isEmpty()) {
                    x.sendResponseHeaders(416, -1); // several ranges, or none: web seeds ask for one
                    return;
                }
                if (m.group(1).isEmpty()) { // the last N bytes
                    from = Math.max(0, size - Long.parseLong(m.group(2)));
                } else {
                    from = Long.parseLong(m.group(1));
                    if (!m.group(2).isEmpty()) {
                        to = Math.min(to, Long.parseLong(m.group(2)));
                    }
                }
                if (from >= size || from > to) {
                    x.getResponseHeaders().set("Content-Range", "bytes */" + size);
                    x.sendResponseHeaders(416, -1);
                    return;
                }
                status = 206;
                x.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + to + "/" + size);
            }
            long length = to - from + 1;
            x.getResponseHeaders().set("Accept-Ranges", "bytes");
            x.getResponseHeaders().set("Content-Type", "application/octet-stream");
            if ("HEAD".equals(method)) {
                x.getResponseHeaders().set("Content-Length", Long.toString(length));
                x.sendResponseHeaders(status, -1);
                return;
            }
            x.sendResponseHeaders(status, length == 0 ? -1 : length);
            try (FileChannel ch = FileChannel.open(file); OutputStream out = x.getResponseBody()) {
                ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(1, length)));
                long pos = from;
                while (pos <= to) {
                    buf.clear().limit((int) Math.min(buf.capacity(), to - pos + 1));
                    int n = ch.read(buf, pos);
                    if (n < 0) {
                        break; // the file shrank under us: the client sees a short body and retries
                    }
                    out.write(buf.array(), 0, n);
                    pos += n;
                }
            }
        } catch (IOException e) {
            LOG.debug("origin request {} failed: {}", x.getRequestURI(), e.toString());
        }
    }

    /** The regular file under {@link #root} that a request path names, or null. */
    private Path resolve(String requestPath) {
        if (requestPath == null || !requestPath.startsWith("/")) {
            return null;
        }
        Path p = root;
        for (String part : requestPath.substring(1).split("/")) {
            if (part.isEmpty() || part.equals(".") || part.equals("..") || part.indexOf('\0') >= 0) {
                return null;
            }
            p = p.resolve(part);
            if (Files.isSymbolicLink(p)) {
                return null;
            }
        }
        return p.startsWith(root) && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) ? p : null;
    }

    /** Stops serving. */
    @Override
    public void close() {
        server.stop(0);
        workers.shutdownNow();
    }
}
