package io.cowherd.internal.io;

import io.cowherd.CorruptImageException;
import io.cowherd.CowIOException;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The host file under an image, for format implementations: whole-buffer positional reads and
 * writes, metadata reads that turn a short file into a {@link CorruptImageException} naming
 * the field, and data reads that see zeros past the end (as QEMU's file driver does).
 */
public final class HostFile implements Closeable {
    private final Path path;
    private final FileChannel channel;

    /** Opens {@code path} for reading, and writing when {@code writable}. */
    public HostFile(Path path, boolean writable) {
        this.path = path;
        try {
            this.channel = writable
                    ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw CowIOException.wrap(path, "opening", e);
        }
    }

    public Path path() {
        return path;
    }

    /** The channel, for kernel-side copies; callers must not close it or move its position. */
    public FileChannel channel() {
        return channel;
    }

    public long size() {
        try {
            return channel.size();
        } catch (IOException e) {
            throw CowIOException.wrap(path, "reading the size of", e);
        }
    }

    /**
     * Fills {@code dst} with metadata at {@code offset}; a file that ends first is corrupt, with
     * {@code field} named in the error.
     */
    public void readMetadata(ByteBuffer dst, long offset, String field) {
        long at = offset;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, at);
                if (n < 0) {
                    throw new CorruptImageException(path, field, offset, "lies beyond the end of the file ("
                            + channel.size() + " bytes)");
                }
                at += n;
            }
        } catch (IOException e) {
            throw CowIOException.wrap(path, "reading " + field + " of", e);
        }
    }

    /** Reads {@code length} bytes of metadata, as {@link #readMetadata(ByteBuffer, long, String)}. */
    public byte[] readMetadata(long offset, int length, String field) {
        ByteBuffer dst = ByteBuffer.allocate(length);
        readMetadata(dst, offset, field);
        return dst.array();
    }

    /** Reads guest data: bytes beyond the end of the file read as zeros. */
    public void readData(ByteBuffer dst, long offset) throws IOException {
        long at = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, at);
            if (n < 0) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            at += n;
        }
    }

    public void write(ByteBuffer src, long offset) throws IOException {
        long at = offset;
        while (src.hasRemaining()) {
            at += channel.write(src, at);
        }
    }

    public void write(byte[] src, long offset) throws IOException {
        write(ByteBuffer.wrap(src), offset);
    }

    public void truncate(long size) throws IOException {
        channel.truncate(size);
    }

    /** Makes every write so far durable. */
    public void force() throws IOException {
        channel.force(true);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
