package io.cowherd.internal.pool;

import io.cowherd.CowBackend;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.VolumeInfo;
import io.cowherd.VolumeNames;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.nbd.NbdDisk;
import io.cowherd.internal.nbd.NbdUri;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import io.cowherd.spi.OverlayFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pool that is a directory of image files in one {@link OverlayFormat}: masters are imported
 * (converted) into it and made read-only; clones are overlays whose backing reference is the
 * master's file name, relative, so the directory can move as a whole. The records and the lock
 * live in {@code .cowherd/} inside the directory.
 */
public class DirectoryPool extends RecordedPool {
    private static final Logger LOG = LoggerFactory.getLogger(DirectoryPool.class);

    private final CowBackend backend;
    private final OverlayFormat format;
    private final ImagePolicy policy;

    /**
     * Opens the pool in {@code directory}, creating the directory and its records if needed.
     *
     * @throws io.cowherd.WrongBackendException if the pool belongs to another backend
     * @throws io.cowherd.NoSuchPoolException if {@code directory} is a file
     */
    public DirectoryPool(CowBackend backend, OverlayFormat format, Path directory) {
        super(backend, directory);
        this.backend = backend;
        this.format = format;
        ImagePolicy confined = ImagePolicy.confinedTo(this.directory);
        this.policy = backend.capabilities().contains(io.cowherd.Capability.STREAM)
                ? confined.allowingStreamsFrom(streamSockets()) : confined;
        if (Files.exists(this.directory) && !Files.isDirectory(this.directory)) {
            throw new io.cowherd.NoSuchPoolException(this.directory, this.directory + " is a file, not a pool directory");
        }
        try {
            Files.createDirectories(meta);
        } catch (IOException e) {
            throw CowIOException.wrap(this.directory, "creating the pool", e);
        }
        BackendRecord.claim(meta, backend);
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
            Volume master = placeMaster(name, staged, target);
            LOG.info("imported {} as master '{}' in {}", source, name, directory);
            return master;
        } catch (IOException e) {
            throw CowIOException.wrap(target, "placing the imported master", e);
        } finally {
            PoolFiles.deleteQuietly(staged);
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
                throw PoolChecks.alreadyRecorded(directory, "'" + name + "' or " + target);
            }
            PoolFiles.makeReadOnly(target);
            Volume master = new Volume(name, Volume.Role.MASTER, null, target, format.name());
            records.added(List.of(master));
            return master;
        }
    }

    // ---- streaming masters: a stand-in backed by the download's NBD export ----

    @Override
    public Volume addStreamingMaster(String name, Path socket, String export) {
        backend.require(io.cowherd.Capability.STREAM);
        VolumeNames.check(name);
        NbdUri uri = new NbdUri(export, socket);
        policy.checkStreamSocket(directory.resolve(name), uri.toString(), uri.socket());
        long size;
        try (NbdDisk disk = NbdDisk.open(uri)) {
            size = disk.size();
        }
        ImageFormats.checkSize(uri.socket(), size, policy);
        Path target = fileFor(name);
        Path staged = directory.resolve("." + name + ".stream");
        try (PoolLock.Held held = lock.acquire()) {
            checkFree(records.load(), name, target);
            PoolFiles.deleteQuietly(staged);
            format.createStreamOverlay(staged, uri.toString(), io.cowherd.internal.io.RawFormat.NAME, size);
            Volume master = placeMaster(name, staged, target);
            LOG.info("master '{}' in {} streams from {} ({} bytes)", name, directory, uri, size);
            return master;
        } catch (IOException e) {
            throw CowIOException.wrap(target, "placing the streaming master", e);
        } finally {
            PoolFiles.deleteQuietly(staged);
        }
    }

    @Override
    public Volume completeStream(String name, Path local) {
        backend.require(io.cowherd.Capability.STREAM);
        Path file = local.toAbsolutePath().normalize();
        try (PoolLock.Held held = lock.acquire()) {
            Volume v = recorded(records.load(), name);
            VolumeInfo header = format.infoWithoutBacking(v.path());
            String reference = v.isMaster() ? header.backingFilename() : null;
            if (reference != null && file.equals(v.path().getParent().resolve(reference).normalize())) {
                return v; // switched already
            }
            if (reference == null || NbdUri.parse(reference).isEmpty()) {
                throw new io.cowherd.UnsupportedFeatureException("'" + name + "' in pool " + directory
                        + " is not a streaming master; nothing to complete");
            }
            policy.checkBackingLocation(v.path(), file);
            long want = header.virtualSize();
            long have = file.toFile().length();
            if (have != want) {
                throw new io.cowherd.CorruptImageException(file, "file size", -1, have + " bytes, but streaming master '"
                        + name + "' has " + want + "; is the download complete?");
            }
            PoolFiles.withWritable(v.path(), () -> format.rebase(v.path(), file, io.cowherd.internal.io.RawFormat.NAME,
                    true, policy));
            LOG.info("master '{}' in {} now reads the local file {} instead of {}", name, directory, file, reference);
            return v;
        }
    }

    @Override
    public Volume movedClone(String clone, Path image) {
        backend.require(io.cowherd.Capability.STREAM);
        Path file = image.toAbsolutePath().normalize();
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Volume> all = records.load();
            Volume v = requireClone(all, clone, "record a move of");
            if (!directory.equals(file.getParent()) || all.values().stream().anyMatch(x -> x.path().equals(file))) {
                throw new io.cowherd.UnsafeBackingException(image + " is not an unrecorded image directly inside pool "
                        + directory + "; clone '" + clone + "' cannot move there");
            }
            Path master = all.get(v.master()).path();
            VolumeInfo info = format.infoWithoutBacking(file);
            VolumeInfo was = format.infoWithoutBacking(v.path());
            if (info.backingFilename() == null
                    || !master.equals(file.getParent().resolve(info.backingFilename()).normalize())
                    || info.virtualSize() != was.virtualSize()) {
                throw new io.cowherd.UnsafeBackingException(image + " does not back onto master '" + v.master()
                        + "' with clone '" + clone + "''s size; refusing to record it as that clone");
            }
            Volume moved = new Volume(clone, Volume.Role.CLONE, v.master(), file, format.name());
            // Record first, then remove the old file (see delete).
            records.replaced(moved);
            PoolFiles.deleteQuietly(v.path());
            LOG.info("clone '{}' in {} moved from {} to {}", clone, directory, v.path().getFileName(), file.getFileName());
            return moved;
        }
    }

    @Override
    public Volume createClone(String master, String clone) {
        return createClones(master, List.of(clone)).get(0);
    }

    @Override
    public List<Volume> createClones(String master, List<String> clones) {
        backend.require(io.cowherd.Capability.CLONE);
        PoolChecks.checkNewNames(clones);
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Volume> all = records.load();
            Volume parent = masterToClone(all, master, "clone a master, or promote this volume to a master first");
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
                files.forEach(PoolFiles::deleteQuietly);
                throw e;
            }
            LOG.debug("created {} clone(s) of '{}' in {}", made.size(), master, directory);
            return made;
        }
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
            Volume v = recorded(all, name);
            refuseDeleteWhileCloned(all, name);
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
            Volume v = requireClone(records.load(), clone, null);
            Path staged = directory.resolve("." + clone + ".flatten");
            PoolFiles.deleteQuietly(staged);
            try (VirtualDisk disk = format.open(v.path(), policy, false, 0)) {
                DiskCopier.copy(disk, format, staged, policy);
                Files.move(staged, v.path(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw CowIOException.wrap(v.path(), "rewriting the clone on its own", e);
            } finally {
                PoolFiles.deleteQuietly(staged);
            }
            if (role == Volume.Role.MASTER) {
                PoolFiles.makeReadOnly(v.path());
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
            Volume v = requireClone(all, clone, null);
            Volume master = all.get(v.master());
            PoolChecks.refuseChangeWhileCloned(directory, master.name(), otherClones(all, master.name(), clone),
                    "commit '" + clone + "' into it", "promote '" + clone + "' to a master of its own instead, "
                            + "or delete or flatten the other clones first");
            PoolFiles.withWritable(master.path(), () -> format.commit(v.path(), policy));
            // The master holds the clone's content now; the clone goes, record first (see delete).
            records.removed(clone);
            PoolFiles.deleteQuietly(v.path());
            LOG.info("committed clone '{}' into master '{}' in {}", clone, master.name(), directory);
            return master;
        }
    }

    @Override
    public void resize(String name, long newSize) {
        backend.require(io.cowherd.Capability.RESIZE);
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Volume> all = records.load();
            Volume v = recorded(all, name);
            List<String> dependents = clonesOf(all, name).stream().map(Volume::name).toList();
            PoolChecks.refuseChangeWhileCloned(directory, name, dependents, "resize it",
                    "resize a clone instead (clones may be larger than their master), or flatten or promote "
                            + "the clones first");
            if (v.isMaster()) {
                PoolFiles.withWritable(v.path(), () -> format.resize(v.path(), newSize, policy));
            } else {
                format.resize(v.path(), newSize, policy);
            }
        }
    }

    @Override
    public void close() {
        // nothing held open between calls
    }

    /** Under the lock, a name checked free: the staged image becomes master {@code name}, read-only and recorded. */
    private Volume placeMaster(String name, Path staged, Path target) throws IOException {
        Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
        PoolFiles.makeReadOnly(target);
        Volume master = new Volume(name, Volume.Role.MASTER, null, target, format.name());
        records.added(List.of(master));
        return master;
    }

    /** The file a volume called {@code name} lives in. */
    private Path fileFor(String name) {
        return directory.resolve(name + "." + format.name());
    }

    private void checkFree(Map<String, Volume> all, String name, Path file) {
        refuseTakenName(all, name);
        if (Files.exists(file)) {
            throw PoolChecks.unrecordedFile(file, directory, "move it away or adopt it");
        }
    }
}
