package io.cowherd.distribution.internal;

import io.cowherd.distribution.torrent.NoPeerException;
import io.cowherd.distribution.torrent.Progress;
import io.cowherd.distribution.torrent.ProgressListener;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentSession;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * What every engine's session does alike: notice when a verified piece arrives (the no-peer clock),
 * report progress to the listener, and wait for completion, a failure, the no-peer timeout or the
 * caller's deadline. Each session answers the engine-specific questions through {@link State}.
 */
public final class SessionWatch {
    /** What the waiting loop asks a session. */
    public interface State {
        /** Whether every piece is verified and the files are in their final place (may finish as a side effect). */
        boolean finished();

        /** Why the session cannot complete, or null. */
        RuntimeException failure();

        /** Whether the session was closed. */
        boolean closed();

        /** Whether the no-peer clock runs yet (a session still preparing its target waits without it). */
        default boolean clockRunning() {
            return true;
        }

        /** What is awaited: "verified piece" unless, say, a magnet link's metadata is still missing. */
        default String awaited() {
            return "verified piece";
        }

        /** Where peers were looked for, for the no-peer message: trackers, DHT, origins. */
        String sources();
    }

    private final String name;
    private final SessionOptions options;
    private final boolean seeder;
    private volatile long lastGain = System.nanoTime();
    private volatile int lastPieces = -1;
    private volatile boolean reportedDone;

    public SessionWatch(String name, SessionOptions options, boolean seeder) {
        this.name = name;
        this.options = options;
        this.seeder = seeder;
    }

    /** Notes a snapshot: a new verified piece restarts the no-peer clock. */
    public void observe(Progress p) {
        if (p.piecesDone() != lastPieces) {
            lastPieces = p.piecesDone();
            lastGain = System.nanoTime();
        }
    }

    /** Restarts the no-peer clock (something other than a piece arrived, e.g. a magnet link's metadata). */
    public void restartClock() {
        lastGain = System.nanoTime();
    }

    /** Whether no verified piece arrived for {@code d}. */
    public boolean quietFor(Duration d) {
        return System.nanoTime() - lastGain > d.toNanos();
    }

    /** Tells the listener; a fetch's 100 % only once its files are in their final place, and only once. */
    public void report(Progress p, boolean finished) {
        ProgressListener l = options.listener();
        if (l == null || reportedDone) {
            return;
        }
        if (p.complete() && !seeder) {
            if (!finished) {
                return;
            }
            reportedDone = true;
        }
        l.progress(p);
    }

    /** The loop behind {@link TorrentSession#awaitCompletion}: {@code session}'s, with its engine's answers in {@code s}. */
    public void await(TorrentSession session, State s, Duration timeout) throws TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (s.finished()) {
                Progress p = session.progress();
                observe(p);
                report(p, true);
                return;
            }
            RuntimeException f = s.failure();
            if (f != null) {
                throw f;
            }
            if (s.closed()) {
                throw new NoPeerException(name + ": the session was closed before the torrent completed");
            }
            if (s.clockRunning() && quietFor(options.noPeerTimeout())) {
                Progress p = session.progress();
                throw new NoPeerException(name + ": no " + s.awaited() + " arrived for " + options.noPeerTimeout().toSeconds()
                        + " s (" + p.piecesDone() + " of " + p.pieceCount() + " pieces held, " + p.connectedPeers()
                        + " peers connected, " + s.sources() + "); is a seed running and reachable from "
                        + options.bindAddress().getHostAddress() + "?");
            }
            if (System.nanoTime() > deadline) {
                Progress p = session.progress();
                throw new TimeoutException(name + ": not complete after " + timeout.toSeconds() + " s (" + p.piecesDone()
                        + " of " + p.pieceCount() + " pieces)");
            }
            Thread.sleep(50);
        }
    }
}
