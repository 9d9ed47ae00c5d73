package io.cowherd.distribution.stream;

import io.cowherd.distribution.nbd.ExportSource;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.TorrentSession;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One file of a torrent being fetched, as an NBD export. A read finds the pieces its range
 * covers; those not held yet are asked for first ({@link TorrentSession#fetchFirst}) and waited
 * for, at most the read timeout. Each piece is read back from disk and hashed against the metainfo
 * the first time a read covers it, so what the export serves is what the torrent's author hashed,
 * whatever the engine or the page cache did; a piece that does not arrive in time fails the read
 * with an {@link IOException} naming it (the client gets {@code NBD_EIO}), never zeros.
 */
final class StreamedFileSource implements ExportSource {
    private static final Logger LOG = LoggerFactory.getLogger(StreamedFileSource.class);
    /** How soon a piece the engine holds, but whose bytes on disk do not hash right yet, is read again. */
    private static final long REREAD_MILLIS = 10;

    private final String name;
    private final TorrentSession session;
    private final Metainfo metainfo;
    private final FetchedFiles files;
    private final long start;
    private final long size;
    private final Duration timeout;
    /** Told of every read, or null. */
    private final ReadRecorder recorder;
    private final BitSet verified;
    private final java.util.concurrent.atomic.AtomicBoolean allVerified = new java.util.concurrent.atomic.AtomicBoolean();
    private final int firstPiece;
    private final int lastPiece;

    /**
     * @param name the export's name, for messages
     * @param start where the file starts in the torrent
     * @param size the file's size
     * @param recorder told of every read (a boot profile being recorded), or null
     */
    StreamedFileSource(String name, TorrentSession session, FetchedFiles files, long start, long size,
            Duration timeout, ReadRecorder recorder) {
        this.name = name;
        this.session = session;
        this.metainfo = session.metainfo();
        this.files = files;
        this.start = start;
        this.size = size;
        this.timeout = timeout;
        this.recorder = recorder;
        this.verified = new BitSet(metainfo.pieceCount());
        this.firstPiece = size == 0 ? 0 : pieceAt(start);
        this.lastPiece = size == 0 ? -1 : pieceAt(start + size - 1);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        if (length == 0) {
            return;
        }
        if (recorder != null) {
            recorder.record(name, offset, length);
        }
        long from = start + offset;
        if (!allVerified.get()) {
            awaitRange(pieceAt(from), pieceAt(from + length - 1), offset, length);
        }
        files.read(from, dst);
    }

    /** @return false once every piece of the range has been read back and verified */
    @Override
    public boolean readMayWait(long offset, int length) {
        if (allVerified.get() || length == 0) {
            return false;
        }
        long from = start + offset;
        for (int p = pieceAt(from); p <= pieceAt(from + length - 1); p++) {
            if (!isVerified(p)) {
                return true;
            }
        }
        return false;
    }

    /** Makes sure every piece from {@code first} to {@code last} is verified on disk, asking for the missing ones first. */
    private void awaitRange(int first, int last, long offset, int length) throws IOException {
        List<Integer> missing = new ArrayList<>();
        for (int p = first; p <= last; p++) {
            if (!isVerified(p) && !session.havePiece(p)) {
                missing.add(p);
            }
        }
        if (!missing.isEmpty()) {
            session.fetchFirst(missing);
        }
        long began = System.nanoTime();
        long deadline = began + timeout.toNanos();
        for (int p = first; p <= last; p++) {
            awaitPiece(p, deadline, offset, length);
        }
        if (!missing.isEmpty() && LOG.isDebugEnabled()) {
            LOG.debug("export {}: read of {} bytes at {} waited {} ms for pieces {}", name, length, offset,
                    (System.nanoTime() - began) / 1_000_000, missing);
        }
        if (verifiedCount() == lastPiece - firstPiece + 1 && allVerified.compareAndSet(false, true)) {
            LOG.info("export {}: every piece is here and verified", name);
        }
    }

    private void awaitPiece(int piece, long deadline, long offset, int length) throws IOException {
        try {
            while (!isVerified(piece)) {
                long left = deadline - System.nanoTime();
                if (session.havePiece(piece)) {
                    if (metainfo.pieceMatches(piece, files.piece(piece))) {
                        markVerified(piece);
                        return;
                    }
                    // held by the engine, but not yet what it hashed on disk: look again soon
                    if (left <= 0) {
                        throw unavailable(piece, offset, length, "the engine holds it, but the bytes on disk do not match its hash");
                    }
                    TimeUnit.MILLISECONDS.sleep(REREAD_MILLIS);
                } else if (left <= 0 || !session.awaitPiece(piece, Duration.ofNanos(left))) {
                    // the time is up, or the fetch stopped without it
                    throw unavailable(piece, offset, length, "no peer sent it in time");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("export " + name + ": interrupted while waiting for piece " + piece);
        }
    }

    private IOException unavailable(int piece, long offset, int length, String why) {
        long pieceStart = (long) piece * metainfo.pieceLength();
        String message = "export " + name + ": piece " + piece + " of " + metainfo.name() + " (torrent bytes "
                + pieceStart + "-" + (pieceStart + metainfo.pieceSize(piece) - 1) + ") not available after "
                + timeout.toSeconds() + " s (" + why + "); read of " + length + " bytes at " + offset + " failed";
        LOG.warn(message);
        return new IOException(message);
    }

    private int pieceAt(long torrentOffset) {
        return (int) (torrentOffset / metainfo.pieceLength());
    }

    private boolean isVerified(int piece) {
        synchronized (verified) {
            return verified.get(piece);
        }
    }

    private void markVerified(int piece) {
        synchronized (verified) {
            verified.set(piece);
        }
    }

    private int verifiedCount() {
        synchronized (verified) {
            return verified.cardinality();
        }
    }

    @Override
    public String toString() {
        return "export " + name + " of " + metainfo.name() + " (streaming)";
    }
}
