package io.cowherd;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;

/**
 * The guest-visible bytes of a volume: what a virtual machine sees when it reads its disk,
 * whatever the chain of images or devices underneath. Positional, like
 * {@link java.nio.channels.FileChannel}'s {@code read(ByteBuffer, long)}, and safe for
 * concurrent use by several threads; {@link #asChannel()} gives a {@link SeekableByteChannel}
 * view for code that wants the plain java.nio shape.
 */
public interface VirtualDisk extends Closeable {

    /** The virtual size in bytes. */
    long size();

    /** Whether {@link #write} is allowed on this disk. */
    boolean isWritable();

    /**
     * Reads up to {@code dst.remaining()} bytes at {@code position}.
     *
     * @return the number of bytes read, or -1 when {@code position} is at or past the end
     */
    int read(ByteBuffer dst, long position) throws IOException;

    /**
     * Writes all of {@code src} at {@code position}; the write must lie within {@link #size()}.
     *
     * @throws ReadOnlyVolumeException if the disk is not writable
     */
    int write(ByteBuffer src, long position) throws IOException;

    /**
     * Makes {@code length} bytes at {@code position} read as zeros. Formats that can record
     * zeros without storing them (qcow2 zero clusters) do so; the default writes zero bytes.
     */
    default void writeZeroes(long position, long length) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
        long done = 0;
        while (done < length) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), length - done));
            write(zeros, position + done);
            done += zeros.limit();
        }
    }

    /**
     * Tells the disk that {@code length} bytes at {@code position} are no longer needed, so
     * their space may be released; afterwards they read as zeros. The default writes zeros.
     */
    default void discard(long position, long length) throws IOException {
        writeZeroes(position, length);
    }

    /**
     * Where guest bytes are stored verbatim in a host file.
     *
     * @param channel the host file (owned by the disk: do not close or move its position)
     * @param offset where in the host file the bytes start
     * @param length how many guest bytes are stored there contiguously
     */
    record Extent(java.nio.channels.FileChannel channel, long offset, long length) {
    }

    /**
     * The host file range holding the guest bytes at {@code position} verbatim (at most
     * {@code max} of them), or null when they are not stored that way (zeros, compressed,
     * unknown). Copies read such a run in one go, and no further: what follows it may be a hole.
     */
    default Extent storedAt(long position, long max) throws IOException {
        return null;
    }

    /**
     * How many bytes from {@code position} (at most {@code max}) are known to read as zeros
     * without reading them: unallocated or zero clusters all the way down the chain. 0 when
     * unknown; lets copies skip holes instead of reading them.
     */
    default long knownZeroes(long position, long max) throws IOException {
        return 0;
    }

    /**
     * Makes every completed write durable (data and metadata). {@link #close()} alone hands
     * writes to the operating system, like closing a file, without waiting for the disk.
     */
    void flush() throws IOException;

    /**
     * Reads exactly {@code dst.remaining()} bytes at {@code position}.
     *
     * @throws java.io.EOFException if the disk ends first
     */
    default void readFully(ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int n = read(dst, position);
            if (n < 0) {
                throw new java.io.EOFException("virtual disk ends at " + size() + ", wanted byte " + position);
            }
            position += n;
        }
    }

    /** A {@link SeekableByteChannel} over this disk with its own position; closing it closes the disk. */
    default SeekableByteChannel asChannel() {
        return new VirtualDiskChannel(this);
    }
}
