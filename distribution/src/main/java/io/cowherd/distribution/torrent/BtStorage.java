package io.cowherd.distribution.torrent;

import bt.data.Storage;
import bt.data.StorageUnit;
import bt.metainfo.Torrent;
import bt.metainfo.TorrentFile;
import bt.net.buffer.ByteBufferView;
import io.cowherd.CowIOException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * bt's {@link Storage} for one session, laid out as cowherd (and ttorrent) lay a torrent out: the
 * file of a single-file torrent, or the top directory of a multi-file one (even with one file),
 * under the parent directory, every path checked by {@link Metainfo#resolveIn}. A fetch writes
 * {@code NAME.part} and renames it to {@code NAME} once every piece is verified ({@link #finish});
 * a seed opens its files read-only.
 */
final class BtStorage implements Storage {
    private static final Logger LOG = LoggerFactory.getLogger(BtStorage.class);
    static final String PART = ".part";

    private final Path parent;
    private final boolean seeding;
    private final Function<Torrent, Metainfo> metainfoOf;
    private final List<Unit> units = new CopyOnWriteArrayList<>();

    /**
     * @param metainfoOf cowherd's checked metainfo for bt's torrent (for a magnet link, made from
     *     the metadata peers sent; it refuses hostile names)
     */
    BtStorage(Path parent, boolean seeding, Function<Torrent, Metainfo> metainfoOf) {
        this.parent = parent;
        this.seeding = seeding;
        this.metainfoOf = metainfoOf;
    }

    @Override
    public StorageUnit getUnit(Torrent torrent, TorrentFile torrentFile) {
        Metainfo m = metainfoOf.apply(torrent);
        int index = torrent.getFiles().indexOf(torrentFile);
        if (index < 0 || m.files().size() != torrent.getFiles().size()
                || m.files().get(index).length() != torrentFile.getSize()) {
            throw new IllegalStateException("bt's file list of " + m.name() + " does not match its metainfo");
        }
        Path target = m.resolveIn(parent).get(index);
        Path part = target.resolveSibling(target.getFileName() + PART);
        Path start = seeding || Files.exists(target) ? target : part;
        Unit u = new Unit(target, start, torrentFile.getSize(), seeding);
        units.add(u);
        return u;
    }

    @Override
    public void flush() {
        // nothing is buffered: writes go straight to the files (and the page cache)
    }

    /** Renames every {@code .part} file to its final name (idempotent). */
    void finish() {
        for (Unit u : units) {
            u.finish();
        }
    }

    /** Closes every open file. */
    void close() {
        for (Unit u : units) {
            u.close();
        }
    }

    /** One file of the torrent. */
    private static final class Unit implements StorageUnit {
        private final Path target;
        private final long capacity;
        private final boolean readOnly;
        private final ReadWriteLock lock = new ReentrantReadWriteLock();
        private volatile Path current;
        private FileChannel channel;

        Unit(Path target, Path current, long capacity, boolean readOnly) {
            this.target = target;
            this.current = current;
            this.capacity = capacity;
            this.readOnly = readOnly;
        }

        private synchronized FileChannel channel(boolean forWrite) throws IOException {
            if (channel == null) {
                if (readOnly) {
                    channel = FileChannel.open(current, StandardOpenOption.READ);
                } else {
                    Files.createDirectories(current.getParent());
                    channel = FileChannel.open(current, StandardOpenOption.CREATE, StandardOpenOption.READ,
                            StandardOpenOption.WRITE);
                }
            }
            if (forWrite && readOnly) {
                throw new IOException(current + " is shared read-only; refusing to write");
            }
            return channel;
        }

        @Override
        public int readBlock(ByteBuffer buffer, long offset) {
            lock.readLock().lock();
            try {
                if (channel == null && !Files.exists(current)) {
                    return -1;
                }
                return channel(false).read(buffer, offset);
            } catch (IOException e) {
                throw new UncheckedIOException("reading " + current, e);
            } finally {
                lock.readLock().unlock();
            }
        }

        @Override
        public int writeBlock(ByteBuffer buffer, long offset) {
            checkRange(offset, buffer.remaining());
            lock.readLock().lock();
            try {
                return channel(true).write(buffer, offset);
            } catch (IOException e) {
                throw new UncheckedIOException("writing " + current, e);
            } finally {
                lock.readLock().unlock();
            }
        }

        @Override
        public int writeBlock(ByteBufferView buffer, long offset) {
            checkRange(offset, buffer.remaining());
            lock.readLock().lock();
            try {
                return buffer.transferTo(channel(true), offset);
            } catch (IOException e) {
                throw new UncheckedIOException("writing " + current, e);
            } finally {
                lock.readLock().unlock();
            }
        }

        private void checkRange(long offset, int length) {
            if (offset < 0 || offset + length > capacity) {
                throw new IllegalArgumentException("write of " + length + " bytes at " + offset + " outside " + target
                        + " (" + capacity + " bytes)");
            }
        }

        @Override
        public long capacity() {
            return capacity;
        }

        @Override
        public long size() {
            try {
                return Files.exists(current) ? Files.size(current) : 0;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        void finish() {
            lock.writeLock().lock();
            try {
                if (current.equals(target)) {
                    return;
                }
                closeChannel();
                if (!Files.exists(current)) {
                    Files.createDirectories(current.getParent());
                    Files.createFile(current); // an empty file no piece touched
                }
                Files.move(current, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                LOG.debug("{} complete", target);
                current = target;
            } catch (IOException e) {
                throw CowIOException.wrap(target, "renaming the finished download to", e);
            } finally {
                lock.writeLock().unlock();
            }
        }

        private synchronized void closeChannel() throws IOException {
            if (channel != null) {
                channel.close();
                channel = null;
            }
        }

        @Override
        public void close() {
            lock.writeLock().lock();
            try {
                closeChannel();
            } catch (IOException e) {
                LOG.debug("closing {}: {}", current, e.toString());
            } finally {
                lock.writeLock().unlock();
            }
        }

        @Override
        public String toString() {
            return current + " (" + capacity + " bytes)";
        }
    }
}
