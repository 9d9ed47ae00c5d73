package io.cowherd.distribution.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The bytes behind one export. Implementations must allow concurrent {@link #read} calls from
 * several threads: the server runs a client's reads in parallel, and serves several clients.
 */
public interface ExportSource {
    /** @return the export's size in bytes; fixed for the source's life */
    long size();

    /**
     * Fills {@code dst} from its position to its limit with the bytes at {@code offset}. The server
     * only asks for ranges inside {@link #size()}. May block (a source still downloading waits for
     * the pieces the range needs).
     *
     * @param offset where the range starts in the export
     * @param dst the buffer to fill completely
     * @throws IOException when the bytes cannot be had (the client gets {@code NBD_EIO}); the
     *         message should name what was missing
     */
    void read(long offset, ByteBuffer dst) throws IOException;

    /**
     * Whether a read of this range may wait for data still to come. If not (a complete file, or
     * a range whose data is all here), the server reads on the connection's own thread and spares
     * a hand-off to a worker: a guest's boot reads one range after another, and on a busy host
     * each hand-off is a thread to wake.
     *
     * @param offset where the range starts in the export
     * @param length its length in bytes
     * @return true unless this read returns as soon as the disk allows; true by default
     */
    default boolean readMayWait(long offset, int length) {
        return true;
    }
}
