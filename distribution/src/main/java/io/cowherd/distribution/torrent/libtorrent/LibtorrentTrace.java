package io.cowherd.distribution.torrent.libtorrent;

import io.cowherd.CowIOException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.libtorrent4j.AlertListener;
import org.libtorrent4j.alerts.Alert;
import org.libtorrent4j.alerts.AlertType;
import org.libtorrent4j.alerts.BlockUploadedAlert;
import org.libtorrent4j.alerts.PieceFinishedAlert;

/**
 * A diagnostic for swarm benchmarks, off unless the system property {@value #PROPERTY} names a
 * file prefix: each session then writes {@code PREFIX.BIND_ADDRESS}, one line per event with the
 * wall-clock time in seconds (hosts of one testbed share a clock):
 * <pre>
 * 1795690161.049 up PIECE BLOCK PEER_ADDRESS   a block sent to a peer
 * 1795690161.216 have PIECE                     a piece received and verified
 * </pre>
 * {@code benchmarks/swarm/analyze-trace.py} reads them: how many blocks the seed sent twice, how
 * many other hosts held the piece by then, when every piece had left the seed at least once.
 */
final class LibtorrentTrace implements AlertListener {
    static final String PROPERTY = "cowherd.libtorrent.trace";

    private final PrintWriter out;

    private LibtorrentTrace(PrintWriter out) {
        this.out = out;
    }

    /** The trace asked for by {@value #PROPERTY}, or null. */
    static LibtorrentTrace open(String bindAddress) {
        String prefix = System.getProperty(PROPERTY);
        if (prefix == null || prefix.isEmpty()) {
            return null;
        }
        Path file = Path.of(prefix + "." + bindAddress);
        try {
            return new LibtorrentTrace(new PrintWriter(Files.newBufferedWriter(file), true));
        } catch (IOException e) {
            throw new CowIOException("cannot write the trace " + file + " (" + PROPERTY + "): " + e, e);
        }
    }

    @Override
    public int[] types() {
        return new int[] {AlertType.BLOCK_UPLOADED.swig(), AlertType.PIECE_FINISHED.swig()};
    }

    @Override
    public void alert(Alert<?> a) {
        double now = System.currentTimeMillis() / 1e3;
        if (a instanceof BlockUploadedAlert b) {
            out.printf("%.3f up %d %d %s%n", now, b.pieceIndex(), b.blockIndex(), b.endpoint().address());
        } else if (a instanceof PieceFinishedAlert p) {
            out.printf("%.3f have %d%n", now, p.pieceIndex());
        }
    }

    void close() {
        out.close();
    }
}
