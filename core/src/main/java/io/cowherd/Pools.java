package io.cowherd;

import io.cowherd.internal.pool.BackendRecord;
import io.cowherd.internal.pool.PoolRecords;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Finds pools by location, with the backend the pool itself names: a directory pool's
 * {@code .cowherd/backend} record, or the backend that recognizes the location (an LVM volume
 * group). Opening an existing pool never needs a backend name and never creates anything; a
 * backend name that contradicts the pool's record is refused.
 */
public final class Pools {
    /** The directory inside a directory pool that holds its record and lock. */
    public static final String META_DIR = ".cowherd";

    private Pools() {
    }

    /**
     * The backend that owns the existing pool at {@code location}, if there is a pool there.
     *
     * @throws NoSuchPoolException if {@code location} is a file, or a pool too old to say which backend it is
     */
    public static Optional<CowBackend> backendAt(Path location) {
        Path dir = location.toAbsolutePath().normalize();
        Path meta = dir.resolve(META_DIR);
        if (Files.isDirectory(meta)) {
            Optional<String> recorded = BackendRecord.read(meta);
            if (recorded.isPresent()) {
                return Optional.of(Backends.byName(recorded.get()));
            }
        }
        for (CowBackend b : Backends.all().values()) {
            if (b.recognizes(dir)) {
                return Optional.of(b);
            }
        }
        if (Files.isDirectory(meta)) {
            throw new NoSuchPoolException(dir, "pool " + dir + " does not say which backend it belongs to (made by an "
                    + "older cowherd and still empty); open it once with its backend (Pools.open(location, backend)) to record it");
        }
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new NoSuchPoolException(dir, dir + " is a file, not a pool (a pool is a directory made by cowherd, "
                    + "or /dev/VG or /dev/VG/THINPOOL for LVM)");
        }
        return Optional.empty();
    }

    /**
     * Opens the existing pool at {@code location} with the backend it names.
     *
     * @throws NoSuchPoolException if there is no pool there (nothing is created)
     */
    public static Pool open(Path location) {
        return open(location, null);
    }

    /**
     * Opens the existing pool at {@code location}; {@code backend}, when not null, must be the
     * one the pool names.
     *
     * @throws NoSuchPoolException if there is no pool there (nothing is created)
     * @throws WrongBackendException if the pool belongs to another backend
     */
    public static Pool open(Path location, String backend) {
        CowBackend owner = backendAt(location).orElseThrow(() -> noPool(location));
        return openChecked(location, owner, backend);
    }

    /**
     * Opens the pool at {@code location}, or creates it with {@code backend} when there is none
     * ({@code fallback} when {@code backend} is null).
     *
     * @throws WrongBackendException if an existing pool belongs to another backend than {@code backend}
     */
    public static Pool openOrCreate(Path location, String backend, String fallback) {
        Optional<CowBackend> owner = backendAt(location);
        if (owner.isPresent()) {
            return openChecked(location, owner.get(), backend);
        }
        return Backends.byName(backend != null ? backend : fallback).openPool(location);
    }

    private static Pool openChecked(Path location, CowBackend owner, String asked) {
        if (asked != null && !asked.equals(owner.name())) {
            Backends.byName(asked); // an unknown name is reported as such first
            throw new WrongBackendException(location.toAbsolutePath().normalize(), owner.name(), asked);
        }
        return owner.openPool(location);
    }

    /**
     * The pool that records the image file or device {@code path}, opened, with the volume; empty
     * when no pool records it (the file's directory is no pool, or the pool does not list it).
     * The caller closes the result.
     */
    public static Optional<Recorded> recording(Path path) {
        Path file = path.toAbsolutePath().normalize();
        Path dir = file.getParent();
        Optional<CowBackend> owner = dir == null ? Optional.empty() : backendAtQuietly(dir);
        if (owner.isEmpty()) {
            return Optional.empty();
        }
        Pool pool = open(owner.get().poolLocationOf(file));
        try {
            Optional<Volume> v = pool.volumeAt(file);
            if (v.isEmpty()) {
                pool.close();
                return Optional.empty();
            }
            return Optional.of(new Recorded(pool, v.get()));
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    /**
     * The policy for an operator's own image {@code file} ({@link ImagePolicy#operator()}), which
     * also follows the stream exports of the pool that records the file, if any: a streaming
     * master's stand-in and its clones read through them ({@link Pool#addStreamingMaster}).
     */
    public static ImagePolicy operatorPolicyFor(Path file) {
        Optional<Recorded> r = recording(file);
        if (r.isEmpty()) {
            return ImagePolicy.operator();
        }
        try (Recorded recorded = r.get()) {
            Pool pool = recorded.pool();
            return pool.supports(Capability.STREAM) ? ImagePolicy.operator().allowingStreamsFrom(pool.streamSockets())
                    : ImagePolicy.operator();
        }
    }

    /**
     * The location of the pool that holds (or would hold) the image file or device {@code path}:
     * the pool its directory's backend names ({@link CowBackend#poolLocationOf}; an LVM thin
     * pool's volume lies in {@code /dev/VG}, but belongs to {@code /dev/VG/THINPOOL}), or else its
     * directory. Creates nothing.
     */
    public static Path poolLocationOf(Path path) {
        Path file = path.toAbsolutePath().normalize();
        Path dir = file.getParent();
        if (dir == null) {
            return file;
        }
        return backendAtQuietly(dir).map(b -> b.poolLocationOf(file)).orElse(dir);
    }

    /**
     * Removes the record of the directory pool at {@code location} if it records no volume, and
     * with {@code directoryToo} the directory itself when nothing else is in it: a command that
     * created a pool and then failed leaves nothing behind. Does nothing for a pool that records
     * volumes, or that is not a directory.
     *
     * @return whether the pool's record was removed
     */
    public static boolean removeIfEmpty(Path location, boolean directoryToo) {
        Path dir = location.toAbsolutePath().normalize();
        Path meta = dir.resolve(META_DIR);
        if (!Files.isDirectory(meta)) {
            return false;
        }
        try (java.util.stream.Stream<Path> inMeta = Files.list(meta)) {
            List<Path> metaFiles = inMeta.toList();
            Path journal = meta.resolve("volumes");
            if (Files.exists(journal) && !new PoolRecords(journal, dir).load().isEmpty()
                    || metaFiles.stream().anyMatch(Files::isDirectory)) {
                return false;
            }
            for (Path p : metaFiles) {
                Files.deleteIfExists(p);
            }
            Files.delete(meta);
            if (directoryToo) {
                try (java.util.stream.Stream<Path> left = Files.list(dir)) {
                    if (left.findAny().isEmpty()) {
                        Files.delete(dir);
                    }
                }
            }
            return true;
        } catch (java.io.IOException e) {
            throw CowIOException.wrap(dir, "removing the empty pool", e);
        }
    }

    private static Optional<CowBackend> backendAtQuietly(Path dir) {
        try {
            return backendAt(dir);
        } catch (NoSuchPoolException e) {
            return Optional.empty();
        }
    }

    private static NoSuchPoolException noPool(Path location) {
        Path dir = location.toAbsolutePath().normalize();
        return new NoSuchPoolException(dir, Files.isDirectory(dir)
                ? dir + " is a directory but no pool (it has no " + META_DIR + "/ record); make one by importing or "
                        + "cloning a master into it"
                : "no pool at " + dir + " (nothing there; a pool is a directory that cowherd made, or /dev/VG or "
                        + "/dev/VG/THINPOOL for LVM)");
    }

    /**
     * A pool and the volume it records at a path; closing closes the pool.
     *
     * @param pool the pool, open
     * @param volume the volume
     */
    public record Recorded(Pool pool, Volume volume) implements AutoCloseable {
        @Override
        public void close() {
            pool.close();
        }
    }
}
