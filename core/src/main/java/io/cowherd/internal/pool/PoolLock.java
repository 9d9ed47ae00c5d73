package io.cowherd.internal.pool;

import io.cowherd.CowIOException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Excludes other threads and other processes from a pool while its records change. A file lock
 * alone is held per JVM (a second lock from the same JVM throws), so threads queue on a
 * {@link ReentrantLock} per lock file first. Public for pools outside this package.
 */
public final class PoolLock {
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

    private final Path lockFile;
    private final ReentrantLock threads;

    /** A lock on {@code lockFile} (created when first held). */
    public PoolLock(Path lockFile) {
        this.lockFile = lockFile.toAbsolutePath().normalize();
        this.threads = IN_PROCESS.computeIfAbsent(this.lockFile, p -> new ReentrantLock());
    }

    /** Holds the lock until closed. */
    public Held acquire() {
        threads.lock();
        try {
            FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            try {
                return new Held(channel, channel.lock());
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
        } catch (IOException e) {
            threads.unlock();
            throw CowIOException.wrap(lockFile, "locking the pool", e);
        } catch (RuntimeException e) {
            threads.unlock();
            throw e;
        }
    }

    /** A held lock; closing releases it. */
    public final class Held implements AutoCloseable {
        private final FileChannel channel;
        private final FileLock lock;

        private Held(FileChannel channel, FileLock lock) {
            this.channel = channel;
            this.lock = lock;
        }

        @Override
        public void close() {
            try {
                lock.release();
                channel.close();
            } catch (IOException e) {
                throw CowIOException.wrap(lockFile, "unlocking the pool", e);
            } finally {
                threads.unlock();
            }
        }
    }
}
