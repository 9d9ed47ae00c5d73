package io.cowherd.distribution.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An export served from a regular file (or block device), read-only with positional reads, so
 * that concurrent reads need no lock. Its size is the file's size when opened.
 */
public final class FileExportSource implements ExportSource, AutoCloseable {
    private final Path file;
    private final FileChannel channel;
    private final long size;

    private FileExportSource(Path file, FileChannel channel, long size) {
        this.file = file;
        this.channel = channel;
        this.size = size;
    }

    /**
     * Opens {@code file} for reading.
     *
     * @param file the file to export
     * @return the source; close it after the server
     * @throws IOException if the file cannot be opened
     */
    public static FileExportSource open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new FileExportSource(file, ch, ch.size());
        } catch (RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        long pos = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                // The file shrank under us: report it rather than serve zeros.
                throw new EOFException(file + " ends at " + pos + ", before " + (pos + dst.remaining())
                        + " (it was " + size + " bytes when opened)");
            }
            pos += n;
        }
    }

    /** @return false: the file is complete */
    @Override
    public boolean readMayWait(long offset, int length) {
        return false;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return "file " + file;
    }
}
