package io.cowherd.spi;

import java.io.IOException;

/** A writable disk that can store whole units (clusters) compressed, for {@code convert -c}. */
public interface CompressingDisk {

    /** The unit that is compressed as a whole, in bytes (the cluster size). */
    int compressionUnit();

    /**
     * Stores one whole unit at {@code offset} (a multiple of the unit) compressed, or plainly when
     * compressing does not save space. The unit must not have been written before.
     */
    void writeCompressed(long offset, byte[] content) throws IOException;
}
