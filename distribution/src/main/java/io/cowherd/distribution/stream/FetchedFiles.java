package io.cowherd.distribution.stream;

import io.cowherd.distribution.torrent.Metainfo;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Reads a torrent's bytes, by their offset in the torrent, from the files of a fetch under way:
 * each file under its final name, or under {@code NAME.part} while the fetch writes it. A file is
 * opened once and its channel kept, so the rename at the end of the fetch changes nothing for a
 * reader (the same inode). What is read here is not trusted until its piece's hash matched.
 */
final class FetchedFiles implements AutoCloseable {
    private final Metainfo metainfo;
    private final List<Path> paths;
    private final AtomicReferenceArray<FileChannel> channels;

    FetchedFiles(Metainfo metainfo, Path parent) {
        this.metainfo = metainfo;
        this.paths = metainfo.resolveIn(parent);
        this.channels = new AtomicReferenceArray<>(paths.size());
    }

    /** Fills {@code dst} with the torrent's bytes from {@code offset} on. */
    void read(long offset, ByteBuffer dst) throws IOException {
        List<Metainfo.FileEntry> files = metainfo.files();
        long pos = offset;
        for (int i = 0; i < files.size() && dst.hasRemaining(); i++) {
            Metainfo.FileEntry f = files.get(i);
            long end = f.offset() + f.length();
            if (pos >= end || f.length() == 0) {
                continue;
            }
            int n = (int) Math.min(dst.remaining(), end - pos);
            ByteBuffer part = dst.slice(dst.position(), n);
            FileChannel ch = channel(i);
            long at = pos - f.offset();
            while (part.hasRemaining()) {
                if (ch.read(part, at + part.position()) < 0) {
                    throw new EOFException(paths.get(i) + " ends before byte " + (at + part.position())
                            + " (it is still being fetched)");
                }
            }
            dst.position(dst.position() + n);
            pos += n;
        }
        if (dst.hasRemaining()) {
            throw new EOFException(metainfo.name() + " ends before byte " + pos);
        }
    }

    private FileChannel channel(int i) throws IOException {
        FileChannel ch = channels.get(i);
        if (ch != null) {
            return ch;
        }
        Path path = paths.get(i);
        Path part = path.resolveSibling(path.getFileName() + ".part");
        try {
            ch = FileChannel.open(Files.exists(part) ? part : path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            // renamed between the look and the open: the final name is there now
            ch = FileChannel.open(path, StandardOpenOption.READ);
        }
        if (!channels.compareAndSet(i, null, ch)) {
            ch.close();
            return channels.get(i);
        }
        return ch;
    }

    @Override
    public void close() {
        for (int i = 0; i < channels.length(); i++) {
            FileChannel ch = channels.getAndSet(i, null);
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException e) {
                    // closing anyway
                }
            }
        }
    }
}
