package io.cowherd.pool;

import io.cowherd.CowBackend;
import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.MasterInUseException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.Pool;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeInfo;
import io.cowherd.VolumeNames;
import io.cowherd.io.DiskCopier;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import io.cowherd.spi.OverlayFormat;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pool that is a directory of image files in one {@link OverlayFormat}: masters are imported
 * (converted) into it and made read-only; clones are overlays whose backing reference is the
 * master's file name, relative, so the directory can move as a whole. The records and the lock
 * live in {@code .cowherd/} inside the directory.
 */
public class DirectoryPool implements Pool {
    private static final Logger LOG = LoggerFactory.getLogger(DirectoryPool.class);
    private static final String META_DIR = io.cowherd.Pools.META_DIR;

    private final CowBackend backend;
    private final OverlayFormat format;
    private final Path directory;
    private final ImagePolicy policy;
    private final PoolLock lock;
    private final PoolRecords records;

    /**
     * Opens the pool in {@code directory}, creating the directory and its records if needed.
     *
     * @throws io.cowherd.WrongBackendException if the pool belongs to another backend
     * @throws io.cowherd.NoSuchPoolException if {@code directory} is a file
     */
    public DirectoryPool(CowBackend backend, OverlayFormat format, Path directory) {
        this.backend = backend;
        this.format = format;
        this.directory = directory.toAbsolutePath().normalize();
        this.policy = ImagePolicy.confinedTo(this.directory);
        if (Files.exists(this.directory) && !Files.isDirectory(this.directory)) {
            throw new io.cowherd.NoSuchPoolException(this.directory, this.directory + " is a file, not a pool directory");
        }
        try {
            Files.createDirectories(this.directory.resolve(META_DIR));
        } catch (IOException e) {
            throw CowIOException.wrap(this.directory, "creating the pool", e);
        }
        BackendRecord.claim(this.directory.resolve(META_DIR), backend);
        this.lock = new PoolLock(this.directory.resolve(META_DIR).resolve("lock"));
        this.records = new PoolRecords(this.directory.resolve(META_DIR).resolve("volumes"), this.directory);
    }

    @Override
    public Path location() {
        return directory;
    }

    @Override
    public CowBackend backend() {
        return backend;
    }

    /** The policy images in this pool are opened with: backing files confined to the pool. */
    public ImagePolicy policy() {
        return policy;
    }

    @Override
    public Volume importMaster(String name, Path source, String sourceFormat) {
        return importMaster(name, source, sourceFormat, io.cowherd.CopyProgress.NONE);
    }

    @Override
    public Volume importMaster(String name, Path source, String sourceFormat, io.cowherd.CopyProgress progress) {
        backend.require(io.cowherd.Capability.IMPORT);
        VolumeNames.check(name);
        Path target = fileFor(name);
        try (PoolLock.Held held = lock.acquire()) {
            checkFree(records.load(), name, target);
        }
        // Convert outside the lock: importing a large master must not stall every other clone.
        ImagePolicy sourcePolicy = ImagePolicy.operator();
        ImageFormat in = ImageFormats.byName(sourceFormat);
        sourcePolicy.checkFormat(source, in.name());
        Path staged = directory.resolve("." + name + ".import");
        try (VirtualDisk disk = in.open(source, sourcePolicy, false, 0)) {
            DiskCopier.copy(disk, format, java.util.Map.of(), staged, policy, true, progress);
        } catch (IOException e) {
            throw CowIOException.wrap(source, "reading", e);
        }
        try (PoolLock.Held held = lock.acquire()) {
            checkFree(records.load(), name, target);
            Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
            makeReadOnly(target);
            Volume master = new Volume(name, Volume.Role.MASTER, null, target, format.name());
            records.added(List.of(master));
            LOG.info("imported {} as master '{}' in {}", source, name, directory);
            return master;
        } catch (IOException e) {
            throw CowIOException.wrap(target, "placing the imported master", e);
        } finally {
            deleteQuietly(staged);
        }
    }

    @Override
    public Volume adoptMaster(String name, Path file) {
        VolumeNames.check(name);
        Path target = file.toAbsolutePath().normalize();
        if (!directory.equals(target.getParent())) {
            throw new io.cowherd.UnsafeBackingException(file + " is not directly inside pool " + directory
                    + "; import it instead");
        }
        VolumeInfo info = format.info(target, policy, 0);
        if (info.backingFilename() != null) {
            throw new io.cowherd.UnsupportedFeatureException(file + " has a backing file; a master must stand alone "
                    + "(import it to flatten it)");
        }
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Volume> all = records.load();
            if (all.containsKey(name) || all.values().stream().anyMatch(v -> v.path().equals(target))) {
                throw new VolumeExistsException("pool " + directory + " already records '" + name + "' or " + target);
            }
            makeReadOnly(target);
            Volume master = new Volume(name, Volume.Role.MASTER, null, target, format.name());
            records.added(List.of(master));
            return master;
        }
    }

    @Override
    public Volume createClone(String master, String clone) {
        return createClones(master, List.of(clone)).get(0);
    }

    @Override
    public List<Volume> createClones(String master, List<String> clones) {
        backend.require(io.cowherd.Capability.CLONE);
        clones.forEach(VolumeNames::check);
        if (clones.stream().distinct().count() != clones.size()) {
            throw new IllegalArgumentException("clone names repeat: " + clones);
        }
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Volume> all = records.load();
            Volume parent = all.get(master);
            if (parent == null) {
                throw new NoSuchVolumeException("no master named '" + master + "' in pool " + directory);
            }
            if (!parent.isMaster()) {
                throw new io.cowherd.UnsupportedFeatureException("'" + master + "' is a "
                        + parent.role().name().toLowerCase(java.util.Locale.ROOT) + ", not a master; clone a master, "
                        + "or promote this volume to a master first");
            }
            for (String c : clones) {
                checkFree(all, c, fileFor(c));
            }
            // Read the master once: this validates it and gives the size every clone shares.
            VolumeInfo masterInfo = format.info(parent.path(), policy, 0);
            List<Volume> made = new ArrayList<>(clones.size());
            for (String c : clones) {
                made.add(new Volume(c, Volume.Role.CLONE, master, fileFor(c), format.name()));
            }
            List<Path> files = made.stream().map(Volume::path).toList();
            try {
                format.createOverlays(files, parent.path(), parent.format(), masterInfo.virtualSize());
                records.added(made);
            } catch (RuntimeException e) {
                // None of these files existed before (checked above, under the lock).
                files.forEach(DirectoryPool::deleteQuietly);
                throw e;
            }
            LOG.debug("created {} clone(s) of '{}' in {}", made.size(), master, directory);
            return made;
        }
    }

    @Override
    public Optional<Volume> find(String name) {
        try (PoolLock.Held held = lock.acquire()) {
            return Optional.ofNullable(records.load().get(name));
        }
    }

    @Override
    public List<Volume> volumes() {
        Map<String, Volume> all;
        try (PoolLock.Held held = lock.acquire()) {
            all = records.load();
        }
        List<Volume> out = new ArrayList<>();
        all.values().stream().filter(Volume::isMaster).forEach(out::add);
        all.values().stream().filter(v -> !v.isMaster()).forEach(out::add);
        return out;
    }

    @Override
    public List<Volume> clonesOf(String master) {
        try (PoolLock.Held held = lock.acquire()) {
            return clonesOf(records.load(), master);
        }
    }

    private static List<Volume> clonesOf(Map<String, Volume> all, String master) {
        return all.values().stream().filter(v -> master.equals(v.master())).toList();
    }

    @Override
    public VolumeInfo info(String name) {
        return format.info(get(name).path(), policy, 0);
    }

    @Override
    public VirtualDisk open(String name, boolean writable) {
        Volume v = get(name);
        if (writable && v.isMaster()) {
            throw new ReadOnlyVolumeException("'" + name + "' is a master and masters are read-only; "
                    + "clone it and write to the clone");
        }
        if (writable) {
            backend.require(io.cowherd.Capability.WRITE);
        } else {
            backend.require(io.cowherd.Capability.READ);
        }
        return format.open(v.path(), policy, writable, 0);
    }

    @Override
    public void delete(String name) {
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Volume> all = records.load();
            Volume v = all.get(name);
            if (v == null) {
                throw new NoSuchVolumeException("no volume named '" + name + "' in pool " + directory);
            }
            List<Volume> dependents = clonesOf(all, name);
            if (!dependents.isEmpty()) {
                throw new MasterInUseException(directory.toString(), name,
                        dependents.stream().map(Volume::name).toList());
            }
            // Record first, then remove the file: a crash in between leaves a stray file, never a
            // record that points at nothing.
            records.removed(name);
            all.remove(name);
            try {
                Files.deleteIfExists(v.path());
            } catch (IOException e) {
                throw CowIOException.wrap(v.path(), "deleting", e);
            }
            records.compactIfWorthIt(all);
        }
    }

    // ---- lifecycle: flatten, promote, commit, resize ----

    @Override
    public Volume flatten(String clone) {
        backend.require(io.cowherd.Capability.FLATTEN);
        return standAlone(clone, Volume.Role.STANDALONE);
    }

    @Override
    public Volume promote(String clone) {
        backend.require(io.cowherd.Capability.PROMOTE);
        return standAlone(clone, Volume.Role.MASTER);
    }

    /**
     * Rewrites a clone as an image of its own (holes and zeros stay unallocated) under a
     * temporary name and renames it over the clone, so a crash leaves either the clone or the
     * whole new image; the record changes after the rename (a crash in between leaves a record
     * that still protects the old master, never one that fails to).
     */
    private Volume standAlone(String clone, Volume.Role role) {
        try (PoolLock.Held held = lock.acquire()) {
            Volume v = requireClone(records.load(), clone);
            Path staged = directory.resolve("." + clone + ".flatten");
            deleteQuietly(staged);
            try (VirtualDisk disk = format.open(v.path(), policy, false, 0)) {
                DiskCopier.copy(disk, format, staged, policy);
                Files.move(staged, v.path(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw CowIOException.wrap(v.path(), "rewriting the clone on its own", e);
            } finally {
                deleteQuietly(staged);
            }
            if (role == Volume.Role.MASTER) {
                makeReadOnly(v.path());
            }
            Volume done = new Volume(clone, role, null, v.path(), format.name());
            records.replaced(done);
            LOG.info("{} '{}' in {}: it no longer depends on '{}'", role == Volume.Role.MASTER ? "promoted" : "flattened",
                    clone, directory, v.master());
            return done;
        }
    }

    @Override
    public Volume commit(String clone) {
        backend.require(io.cowherd.Capability.COMMIT);
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Volume> all = records.load();
            Volume v = requireClone(all, clone);
            Volume master = all.get(v.master());
            List<String> siblings = clonesOf(all, master.name()).stream().map(Volume::name)
                    .filter(n -> !n.equals(clone)).toList();
            if (!siblings.isEmpty()) {
                throw new MasterInUseException(directory.toString(), master.name(), siblings,
                        "commit '" + clone + "' into it", "promote '" + clone + "' to a master of its own instead, "
                                + "or delete or flatten the other clones first");
            }
            withWritable(master.path(), () -> format.commit(v.path(), policy));
            // The master holds the clone's content now; the clone goes, record first (see delete).
            records.removed(clone);
            deleteQuietly(v.path());
            LOG.info("committed clone '{}' into master '{}' in {}", clone, master.name(), directory);
            return master;
        }
    }

    @Override
    public void resize(String name, long newSize) {
        backend.require(io.cowherd.Capability.RESIZE);
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Volume> all = records.load();
            Volume v = all.get(name);
            if (v == null) {
                throw new NoSuchVolumeException("no volume named '" + name + "' in pool " + directory);
            }
            List<String> dependents = clonesOf(all, name).stream().map(Volume::name).toList();
            if (!dependents.isEmpty()) {
                throw new MasterInUseException(directory.toString(), name, dependents, "resize it",
                        "resize a clone instead (clones may be larger than their master), or flatten or promote "
                                + "the clones first");
            }
            if (v.isMaster()) {
                withWritable(v.path(), () -> format.resize(v.path(), newSize, policy));
            } else {
                format.resize(v.path(), newSize, policy);
            }
        }
    }

    private Volume requireClone(Map<String, Volume> all, String name) {
        Volume v = all.get(name);
        if (v == null) {
            throw new NoSuchVolumeException("no volume named '" + name + "' in pool " + directory);
        }
        if (v.role() != Volume.Role.CLONE) {
            throw new io.cowherd.UnsupportedFeatureException("'" + name + "' in pool " + directory + " is a "
                    + v.role().name().toLowerCase(java.util.Locale.ROOT) + ", not a clone");
        }
        return v;
    }

    /** Runs {@code change} on a master file with its owner's write bit set, then makes it read-only again. */
    private static void withWritable(Path master, Runnable change) {
        try {
            Files.setPosixFilePermissions(master, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("could not make {} writable: {}", master, e.toString());
        }
        try {
            change.run();
        } finally {
            makeReadOnly(master);
        }
    }

    @Override
    public void close() {
        // nothing held open between calls
    }

    @Override
    public String toString() {
        return backend.name() + " pool " + directory;
    }

    /** The file a volume called {@code name} lives in. */
    private Path fileFor(String name) {
        return directory.resolve(name + "." + format.name());
    }

    private void checkFree(Map<String, Volume> all, String name, Path file) {
        if (all.containsKey(name)) {
            throw new VolumeExistsException("pool " + directory + " already has a volume named '" + name + "'");
        }
        if (Files.exists(file)) {
            throw new VolumeExistsException(file + " already exists but is not recorded in pool " + directory
                    + "; move it away or adopt it");
        }
    }

    private static void makeReadOnly(Path file) {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--r--r--"));
        } catch (IOException | UnsupportedOperationException e) {
            LOG.warn("could not make master {} read-only on disk: {}", file, e.toString());
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (AccessDeniedException e) {
            LOG.warn("could not remove {}: {}", p, e.toString());
        } catch (IOException e) {
            LOG.debug("could not remove {}: {}", p, e.toString());
        } catch (CowException e) {
            LOG.debug("could not remove {}: {}", p, e.toString());
        }
    }
}
