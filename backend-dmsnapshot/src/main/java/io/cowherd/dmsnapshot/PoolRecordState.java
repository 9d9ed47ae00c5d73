package io.cowherd.dmsnapshot;

import io.cowherd.CowIOException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.internal.pool.BackendRecord;
import io.cowherd.internal.pool.PoolLock;
import io.cowherd.internal.pool.PoolRecords;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Whether a dm-snapshot pool exists yet, and its settings. Opening a pool creates nothing: its
 * first import or adoption makes the directory and record ({@link #create}), and removes them
 * again if that first change fails ({@link #uncreate}), so a typo in a path leaves no pool behind.
 * Another process may make the pool meanwhile; every check looks at the disk again.
 */
final class PoolRecordState {
    private final DmSnapshotBackend backend;
    private final Path directory;
    private final Path meta;
    private final PoolLock lock;
    private final PoolRecords records;
    private final PoolSettings fresh;
    /** The recorded settings once the pool exists; {@code fresh} until then. */
    private volatile PoolSettings settings;
    /** Whether the pool's record exists (this object opened or made it). */
    private volatile boolean exists;

    PoolRecordState(DmSnapshotBackend backend, Path directory, Path meta, PoolLock lock, PoolRecords records,
            PoolSettings fresh) {
        this.backend = backend;
        this.directory = directory;
        this.meta = meta;
        this.lock = lock;
        this.records = records;
        this.fresh = fresh;
        this.settings = fresh;
        if (Files.isDirectory(meta)) {
            open();
        }
    }

    /** The recorded settings, or those a new pool would get. */
    PoolSettings settings() {
        return settings;
    }

    private synchronized void open() {
        if (exists) {
            return;
        }
        try (PoolLock.Held held = lock.acquire()) {
            BackendRecord.claim(meta, backend);
            this.settings = PoolSettings.loadOrStore(meta, fresh);
        }
        exists = true;
    }

    /** Whether the pool exists (it is made by its first import or adoption). */
    boolean exists() {
        if (!exists && Files.isDirectory(meta)) {
            open();
        }
        return exists;
    }

    /** @throws NoSuchVolumeException if there is no pool yet, so nothing to lock or read */
    void requireExists() {
        if (!exists) {
            if (!Files.isDirectory(meta)) {
                throw new NoSuchVolumeException("pool " + directory + " records no volume (it does not exist yet)");
            }
            open(); // another process made it meanwhile
        }
    }

    /**
     * Makes the pool's directory and record if they do not exist yet.
     *
     * @return what this call created (the directory, or its record directory), to remove if the
     *         change that needed it fails; null if the pool existed
     */
    synchronized Path create() {
        if (exists || Files.isDirectory(meta)) {
            open();
            return null;
        }
        Path made = Files.isDirectory(directory) ? meta : directory;
        try {
            Files.createDirectories(meta);
        } catch (IOException e) {
            throw CowIOException.wrap(directory, "creating the pool", e);
        }
        try {
            open();
        } catch (RuntimeException e) {
            uncreate(made, e);
            throw e;
        }
        return made;
    }

    /** After a failed first change: removes what {@link #create} made, unless a volume got recorded meanwhile. */
    synchronized void uncreate(Path made, Exception cause) {
        if (made == null) {
            return;
        }
        try {
            if (Files.exists(meta.resolve("volumes")) && !records.load().isEmpty()) {
                return;
            }
            try (Stream<Path> walk = Files.walk(made)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
            exists = false;
            settings = fresh;
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
