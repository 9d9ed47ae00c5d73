package io.cowherd.distribution.torrent;

/**
 * A snapshot of a session.
 *
 * @param piecesDone verified pieces held
 * @param pieceCount pieces in the torrent
 * @param bytesDone bytes of verified pieces held
 * @param totalBytes the torrent's size
 * @param downloaded bytes received from peers (bad pieces included)
 * @param uploaded bytes sent to peers
 * @param connectedPeers peers connected now
 * @param hashFailures pieces received that failed their hash
 * @param resumedPieces verified pieces a fetch found on disk when it started (an interrupted fetch's
 *     {@code .part} files), kept and not fetched again; 0 for a fresh target or a seed
 */
public record Progress(int piecesDone, int pieceCount, long bytesDone, long totalBytes, long downloaded, long uploaded,
        int connectedPeers, int hashFailures, int resumedPieces) {

    /** Whether every piece is held and verified. */
    public boolean complete() {
        return piecesDone == pieceCount;
    }

    /** Completion in percent. */
    public double percent() {
        return totalBytes == 0 ? 100.0 : 100.0 * bytesDone / totalBytes;
    }
}
