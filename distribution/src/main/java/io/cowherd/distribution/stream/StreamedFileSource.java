package io.cowherd.distribution.stream;

import io.cowherd.distribution.internal.BufferPool;
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
 * before it is served (the first time a read covers it, or as it arrives for the pieces given to
 * {@link #verifyAhead}), so what the export serves is what the torrent's author hashed,
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
    /** Pieces hashed right on disk; guards itself and {@link #hashing}. */
    private final BitSet verified;
    /** Pieces a thread hashes now. */
    private final BitSet hashing = new BitSet();
    /** What pieces are read back into to be hashed: a few readers verify at once. */
    private final BufferPool pieceBuffers;
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
        this.pieceBuffers = new BufferPool(4, metainfo.pieceLength());
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
            String why = awaitVerified(piece, deadline);
            if (why != null) {
                throw unavailable(piece, offset, length, why);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("export " + name + ": interrupted while waiting for piece " + piece);
        }
    }

    /**
     * Waits until {@code piece} is held by the engine and hashes right on disk, at most until
     * {@code deadline} ({@link System#nanoTime()}). One thread hashes a piece at a time; the others
     * wait for its verdict.
     *
     * @return null once the piece is verified; otherwise why it is not
     */
    private String awaitVerified(int piece, long deadline) throws IOException, InterruptedException {
        while (!isVerified(piece)) {
            long left = deadline - System.nanoTime();
            if (session.havePiece(piece)) {
                if (!claim(piece)) {
                    awaitOtherHash(piece);
                    continue;
                }
                boolean matches = false;
                try {
                    matches = onDiskMatches(piece);
                } finally {
                    release(piece, matches);
                }
                if (matches) {
                    return null;
                }
                // held by the engine, but not yet what it hashed on disk: look again soon
                if (left <= 0) {
                    return "the engine holds it, but the bytes on disk do not match its hash";
                }
                TimeUnit.MILLISECONDS.sleep(REREAD_MILLIS);
            } else if (left <= 0 || !session.awaitPiece(piece, Duration.ofNanos(left))) {
                // the time is up, or the fetch stopped without it
                return "no peer sent it in time";
            }
        }
        return null;
    }

    /**
     * Verifies {@code pieces} (those of them in this file) in their order as they arrive, on a
     * thread of its own, until interrupted: a boot profile's, so that a guest's boot reads find them
     * verified and are answered on the connection's thread at once, instead of each first read of a
     * piece waiting for a hand-off to a worker and a hash (on a host whose cores are busy, a
     * thread to wake each time). A piece that does not come within the read timeout is left to the reads.
     *
     * @return the thread, started
     */
    Thread verifyAhead(List<Integer> pieces) {
        List<Integer> mine = pieces.stream().filter(p -> p >= firstPiece && p <= lastPiece).toList();
        Thread t = new Thread(() -> {
            int done = 0;
            try {
                for (int piece : mine) {
                    if (awaitVerified(piece, System.nanoTime() + timeout.toNanos()) == null) {
                        done++;
                    }
                }
                LOG.debug("export {}: {} of the {} pieces asked for first verified ahead of the reads", name, done, mine.size());
            } catch (InterruptedException e) {
                // the stream closed
            } catch (IOException e) {
                LOG.debug("export {}: verifying ahead stopped: {}", name, e.toString());
            }
        }, "verify-ahead " + name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private boolean onDiskMatches(int piece) throws IOException {
        ByteBuffer data = pieceBuffers.take((int) metainfo.pieceSize(piece));
        try {
            files.read((long) piece * metainfo.pieceLength(), data);
            return metainfo.pieceMatches(piece, data.flip());
        } finally {
            pieceBuffers.give(data);
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

    /** Whether {@code piece} (of the torrent) has been hashed right on disk by this source. */
    boolean isVerified(int piece) {
        synchronized (verified) {
            return verified.get(piece);
        }
    }

    /** @return whether this thread may hash {@code piece} now (no other does) */
    private boolean claim(int piece) {
        synchronized (verified) {
            if (hashing.get(piece)) {
                return false;
            }
            hashing.set(piece);
            return true;
        }
    }

    private void release(int piece, boolean matches) {
        synchronized (verified) {
            hashing.clear(piece);
            if (matches) {
                verified.set(piece);
            }
            verified.notifyAll();
        }
    }

    /** Waits for the thread that hashes {@code piece} to finish (briefly: its verdict may be "not yet"). */
    private void awaitOtherHash(int piece) throws InterruptedException {
        synchronized (verified) {
            if (hashing.get(piece)) {
                verified.wait(REREAD_MILLIS);
            }
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
