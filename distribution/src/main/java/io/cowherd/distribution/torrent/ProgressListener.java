package io.cowherd.distribution.torrent;

/** Told of a session's progress, about four times a second and once at the end; called on an engine thread. */
@FunctionalInterface
public interface ProgressListener {
    /** The session's progress now. */
    void progress(Progress progress);
}
