package io.cowherd.cli;

import io.cowherd.distribution.torrent.Progress;
import io.cowherd.distribution.torrent.ProgressListener;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;

/** What the torrent commands share: addresses, the progress bar, waiting until stopped. */
final class TorrentCli {
    private TorrentCli() {
    }

    /** Parses {@code HOST:PORT} ({@code [v6]:PORT} too). */
    static InetSocketAddress hostPort(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("'" + text + "' is not HOST:PORT");
        }
        String host = text.substring(0, colon).replace("[", "").replace("]", "");
        try {
            return new InetSocketAddress(InetAddress.getByName(host), Integer.parseInt(text.substring(colon + 1)));
        } catch (UnknownHostException | NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not HOST:PORT (" + e.getMessage() + ")");
        }
    }

    /**
     * The address to listen on and announce: {@code bind} if given, else the local address this
     * host uses to reach the tracker (no packet is sent).
     */
    static InetAddress bindAddress(String bind, URI tracker) {
        try {
            if (bind != null) {
                return InetAddress.getByName(bind);
            }
            if (tracker != null && tracker.getHost() != null) {
                InetAddress t = InetAddress.getByName(tracker.getHost());
                if (t.isLoopbackAddress()) {
                    return InetAddress.getLoopbackAddress();
                }
                try (DatagramSocket s = new DatagramSocket()) {
                    s.connect(t, tracker.getPort() > 0 ? tracker.getPort() : 80);
                    InetAddress a = s.getLocalAddress();
                    if (a != null && !a.isAnyLocalAddress()) {
                        return a;
                    }
                }
            }
            return InetAddress.getLocalHost();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot choose a local address (" + e.getMessage() + "); give --bind ADDR");
        }
    }

    /** A one-line progress bar on stderr, redrawn in place. */
    static ProgressListener progressBar(PrintWriter err) {
        long start = System.nanoTime();
        return new ProgressListener() {
            private int lastPercent = -1;

            @Override
            public synchronized void progress(Progress p) {
                int pct = (int) p.percent();
                double secs = Math.max(0.001, (System.nanoTime() - start) / 1e9);
                int width = 30;
                int fill = (int) (width * p.percent() / 100);
                String bar = "#".repeat(fill) + ".".repeat(width - fill);
                err.printf("\r[%s] %3d%% %s/%s %6.1f MB/s %d peers%s", bar, pct, Sizes.human(p.bytesDone()),
                        Sizes.human(p.totalBytes()), p.downloaded() / 1e6 / secs, p.connectedPeers(),
                        p.complete() ? "\n" : "");
                err.flush();
                lastPercent = pct;
            }
        };
    }

    /** Blocks until the process is stopped (Ctrl-C, SIGTERM); shutdown hooks close what runs. */
    static void waitUntilStopped(AutoCloseable... running) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (AutoCloseable c : running) {
                try {
                    if (c != null) {
                        c.close();
                    }
                } catch (Exception e) {
                    // stopping anyway
                }
            }
        }));
        try {
            Thread.currentThread().join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
