package io.cowherd.vhd;

import io.cowherd.CorruptImageException;
import io.cowherd.CowIOException;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** The host file under a VHD, with whole-buffer positional reads and writes. */
final class VhdFile implements Closeable {
    private final Path path;
    private final FileChannel channel;

    VhdFile(Path path, boolean writable) {
        this.path = path;
        try {
            this.channel = writable
                    ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw CowIOException.wrap(path, "opening", e);
        }
    }

    Path path() {
        return path;
    }

    long size() {
        try {
            return channel.size();
        } catch (IOException e) {
            throw CowIOException.wrap(path, "reading the size of", e);
        }
    }

    /** Reads {@code length} bytes of metadata; a file that ends first is corrupt, {@code field} named. */
    byte[] readMetadata(long offset, int length, String field) {
        ByteBuffer dst = ByteBuffer.allocate(length);
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
        return dst.array();
    }

    /** Reads guest data: bytes beyond the end of the file read as zeros. */
    void readData(ByteBuffer dst, long offset) throws IOException {
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

    void write(ByteBuffer src, long offset) throws IOException {
        long at = offset;
        while (src.hasRemaining()) {
            at += channel.write(src, at);
        }
    }

    void write(byte[] src, long offset) throws IOException {
        write(ByteBuffer.wrap(src), offset);
    }

    void truncate(long size) throws IOException {
        channel.truncate(size);
    }

    void force() throws IOException {
        channel.force(true);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** The channel, for kernel-side copies; callers must not close it or move its position. */
    FileChannel channel() {
        return channel;
    }
}
