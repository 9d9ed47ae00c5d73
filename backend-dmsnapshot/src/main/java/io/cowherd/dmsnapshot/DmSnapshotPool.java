package io.cowherd.dmsnapshot;

import io.cowherd.Capability;
import io.cowherd.CowIOException;
import io.cowherd.Fill;
import io.cowherd.FillListener;
import io.cowherd.FillPolicy;
import io.cowherd.MasterInUseException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeInfo;
import io.cowherd.VolumeNames;
import io.cowherd.internal.io.BlockDeviceDisk;
import io.cowherd.internal.io.FileDisk;
import io.cowherd.internal.io.HostFiles;
import io.cowherd.internal.io.RawFormat;
import io.cowherd.internal.pool.PoolChecks;
import io.cowherd.internal.pool.PoolLock;
import io.cowherd.internal.pool.PoolRecords;
import io.cowherd.internal.pool.RecordedPool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A directory of device-mapper snapshot volumes. A master is a raw image file that is attached
 * read-only (a loop device under a read-only {@code linear} device named after the master); each
 * clone is a sparse copy-on-write store file ({@code NAME.cow}) on its own loop device under a
 * persistent {@code snapshot} target whose device, {@code /dev/mapper/PREFIX+NAME}, is what a guest
 * sees. The prefix is chosen when the pool is made (by default the directory's name and part of
 * the pool id, so two pools may both have a {@code golden}); pools made before keep theirs (none).
 * Opening a pool creates nothing: its first import or adoption makes the directory and record,
 * and removes them again if it fails.
 *
 * <p>The pool records its volumes as a directory pool does ({@code .cowherd/volumes}, under a
 * cross-process lock), so {@link #activate()} can rebuild every device after a reboot. Devices carry
 * the dm uuid {@code COWHERD-<pool id>-<name>}; a device of that name without that uuid belongs to
 * someone else and is never touched. Every operation that creates devices undoes what it created
 * when it fails, so no loop device or table is left behind.
 *
 * <p>This class keeps the record and the {@link io.cowherd.Pool} API; the work is done by
 * {@link PoolRecordState} (the pool made by its first change), {@link MasterImport} (masters),
 * {@link DeviceSetup} (loop devices and tables), {@link PoolActivation} (devices from the record),
 * {@link CowSpace} (fill levels, growing stores, watches) and {@link SnapshotMerge} (promote, commit).
 */
public final class DmSnapshotPool extends RecordedPool {
    private static final Logger LOG = LoggerFactory.getLogger(DmSnapshotPool.class);
    private static final String MASTER_EXT = ".raw";
    private static final String COW_EXT = ".cow";
    /** The format recorded for COW store files (the guest-visible format stays raw). */
    static final String COW_FORMAT = "dm-snapshot-cow";

    private final DmSnapshotBackend backend;
    private final PoolRecordState state;
    private final DeviceSetup devices;
    private final CowSpace space;
    private final SnapshotMerge merges;
    private final MasterImport imports;
    private final PoolActivation activation;

    DmSnapshotPool(DmSnapshotBackend backend, Path directory, PoolSettings fresh) {
        super(backend, directory);
        this.backend = backend;
        this.state = new PoolRecordState(backend, this.directory, meta, lock, records, fresh);
        this.devices = new DeviceSetup(this.directory, this::settings);
        this.space = new CowSpace(this, devices);
        this.merges = new SnapshotMerge(this, devices, space);
        this.imports = new MasterImport(this);
        this.activation = new PoolActivation(this, devices, space);
    }

    /** The pool's lock, for a change or a read of the record. @throws NoSuchVolumeException if there is no pool yet */
    @Override
    protected PoolLock.Held locked() {
        state.requireExists();
        return lock.acquire();
    }

    /** Whether the pool exists (it is made by its first import or adoption). */
    boolean exists() {
        return state.exists();
    }

    /** The record; empty while the pool does not exist. */
    @Override
    protected Map<String, Volume> recorded() {
        return exists() ? super.recorded() : none();
    }

    /** The volume {@code name} in {@code all}; overridden only so this package's helpers may call it. */
    @Override
    protected Volume recorded(Map<String, Volume> all, String name) {
        return super.recorded(all, name);
    }

    /** The volume {@code name}, read under the lock. */
    Volume recorded(String name) {
        return recorded(recorded(), name);
    }

    /** The journal, for this package's helpers while they hold {@link #locked()}. */
    PoolRecords journal() {
        return records;
    }

    /** The public face of a recorded volume: a clone is its device, in raw format. */
    @Override
    protected Volume visible(Volume v) {
        if (v.isMaster()) {
            return v;
        }
        return new Volume(v.name(), v.role(), v.master(), deviceOf(v.name()), RawFormat.NAME);
    }

    /** The pool's settings (chunk size, device prefix, initial COW size, identity). */
    public PoolSettings settings() {
        return state.settings();
    }

    // ---- masters ----

    @Override
    public Volume importMaster(String name, Path source, String sourceFormat) {
        backend.require(Capability.IMPORT);
        VolumeNames.check(name);
        Path made = state.create();
        try {
            return imports.importMaster(name, source, sourceFormat);
        } catch (RuntimeException e) {
            state.uncreate(made, e); // a failed first import leaves no pool behind
            throw e;
        }
    }

    @Override
    public Volume adoptMaster(String name, Path image) {
        VolumeNames.check(name);
        Path made = state.create();
        try {
            return imports.adopt(name, image);
        } catch (RuntimeException e) {
            state.uncreate(made, e);
            throw e;
        }
    }

    // ---- clones ----

    @Override
    public Volume createClone(String master, String clone) {
        return createClones(master, List.of(clone)).get(0);
    }

    @Override
    public List<Volume> createClones(String master, List<String> clones) {
        return createClones(master, clones, settings().cowPercent());
    }

    /** Clones whose COW store files start at {@code cowPercent} of what would hold the whole master. */
    @Override
    public List<Volume> createClones(String master, List<String> clones, int cowPercent) {
        backend.require(Capability.CLONE);
        backend.require(Capability.FILL);
        PoolSettings.checkCowPercent(cowPercent);
        PoolChecks.checkNewNames(clones);
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            Volume parent = masterToClone(all, master, "clone a master or merge this clone into a new master first");
            for (String c : clones) {
                checkFree(all, c);
            }
            long size = masterSize(parent);
            long cowBytes = space.initialCowBytes(size, cowPercent);
            List<Volume> made = devices.createClones(parent, clones, size, cowBytes, this::cowFile);
            try {
                records.added(made);
            } catch (RuntimeException e) {
                devices.undoClones(parent, made, e);
                throw e;
            }
            LOG.debug("created {} clone(s) of '{}' in {}", made.size(), master, directory);
            return made.stream().map(this::visible).toList();
        }
    }

    // ---- queries ----

    @Override
    public VolumeInfo info(String name) {
        Volume v = recorded(name);
        try {
            if (v.isMaster()) {
                return masterInfo(v);
            }
            Volume m = recorded(v.master());
            VolumeInfo mi = masterInfo(m);
            return new VolumeInfo(deviceOf(name).toString(), RawFormat.NAME, mi.virtualSize(),
                    HostFiles.allocatedBytes(v.path()), settings().chunkBytes(), m.path().getFileName().toString(),
                    RawFormat.NAME, m.path().toString(), mi);
        } catch (IOException e) {
            throw CowIOException.wrap(v.path(), "reading", e);
        }
    }

    private VolumeInfo masterInfo(Volume m) throws IOException {
        return new VolumeInfo(m.path().toString(), RawFormat.NAME, Files.size(m.path()),
                HostFiles.allocatedBytes(m.path()), 0, null, null, null, null);
    }

    /** The guest-visible device of a volume: {@code /dev/mapper/PREFIX+NAME}. */
    public Path deviceOf(String name) {
        return devices.deviceOf(name);
    }

    /** The device-mapper name of volume {@code name}. */
    public String dmName(String name) {
        return devices.dmName(name);
    }

    /** The dm uuid prefix of every device of this pool. */
    public String uuidPrefix() {
        return devices.uuidPrefix();
    }

    /** The COW store file of a clone. */
    public Path cowStoreOf(String clone) {
        Volume v = recorded(clone);
        if (v.isMaster()) {
            throw new IllegalArgumentException("'" + clone + "' is a master and has no COW store");
        }
        return v.path();
    }

    /** Whether the clone's (or master's) device exists in the kernel now. */
    public boolean isActive(String name) {
        return devices.ourDevice(name).isPresent();
    }

    /**
     * The volume whose file (a master's {@code NAME.raw}, a clone's {@code NAME.cow}) or device
     * ({@code /dev/mapper/PREFIX+NAME}) is {@code path}.
     */
    @Override
    public Optional<Volume> volumeAt(Path path) {
        Path p = path.toAbsolutePath().normalize();
        for (Volume v : recorded().values()) {
            if (v.path().toAbsolutePath().normalize().equals(p) || deviceOf(v.name()).equals(p)) {
                return Optional.of(visible(v));
            }
        }
        return Optional.empty();
    }

    // ---- guest-visible bytes ----

    @Override
    public VirtualDisk open(String name, boolean writable) {
        Volume v = recorded(name);
        if (writable && v.isMaster()) {
            throw new ReadOnlyVolumeException("'" + name + "' is a master and masters are read-only; "
                    + "clone it and write to the clone");
        }
        backend.require(writable ? Capability.WRITE : Capability.READ);
        try {
            if (v.isMaster()) {
                return new FileDisk(v.path(), false);
            }
            checkHealthy(name); // before activating: a lost clone gets no device
            if (devices.ourDevice(name).isEmpty()) {
                activate(name);
            }
            long size = Files.size(recorded(v.master()).path());
            return new BlockDeviceDisk(deviceOf(name), size, writable, e -> {
                if (space.cowStatus(name).lost()) {
                    CowStoreFullException full = space.overflowed(name);
                    full.addSuppressed(e);
                    throw full;
                }
                return e;
            });
        } catch (IOException e) {
            throw CowIOException.wrap(v.path(), "opening", e);
        }
    }

    // ---- activation ----

    /**
     * Creates the devices of every clone the pool records (and of their masters) that do not exist
     * yet, for example after a reboot. Devices that exist are left as they are. A clone whose
     * snapshot was lost (its store's header says the kernel invalidated it) gets no device.
     *
     * @return the clones active afterwards, in creation order (lost ones left out)
     */
    @Override
    public List<String> activate() {
        return activation.activateAll();
    }

    /** Creates the device of clone {@code name} (and its master's) if it does not exist. */
    public void activate(String name) {
        activation.activate(name);
    }

    /**
     * Removes the devices of every clone and master of the pool and detaches their loop devices;
     * files and records stay, and {@link #activate()} brings them back.
     *
     * @throws DeviceBusyException naming the devices still open; the others are deactivated
     */
    @Override
    public void deactivate() {
        activation.deactivateAll();
    }

    /** Removes the device of clone {@code name} and detaches its loop device (its master's too, once unused). */
    public void deactivate(String name) {
        activation.deactivate(name);
    }

    // ---- space: fill levels, growth, watches ----

    /**
     * The kernel's status of a clone's snapshot.
     *
     * @return the status; state {@link CowUsage.State#INACTIVE} when the clone has no device now
     */
    CowUsage cowStatus(String clone) {
        return space.cowStatus(clone);
    }

    /**
     * How full a clone's COW store is: from the kernel's status while the clone is active, else
     * from the store's own header and metadata on disk (after a reboot the kernel knows nothing).
     * A snapshot the kernel invalidated (overflow, failure) is reported lost, now or after a reboot.
     */
    public Fill fill(String clone) {
        return space.fill(clone);
    }

    /** {@link #fill} of every clone in the pool, in creation order. */
    @Override
    public List<Fill> usage() {
        return space.usage();
    }

    /**
     * Throws {@link CowStoreFullException} naming the clone if its snapshot is lost (its store
     * overflowed or failed).
     */
    public void checkHealthy(String clone) {
        if (fill(clone).lost()) {
            throw space.overflowed(clone);
        }
    }

    /**
     * Grows a clone's COW store to {@code newBytes} while the clone stays in use: extends the
     * sparse file, makes its loop device take the new size and reloads the snapshot table
     * (suspend, load, resume), as {@code lvextend} does for a snapshot. Never shrinks.
     *
     * @return the store's size afterwards
     */
    public long growCowStore(String clone, long newBytes) {
        return space.growCowStore(clone, newBytes);
    }

    /**
     * The largest COW store a clone of a {@code masterBytes} master can ever need: every chunk
     * copied once, plus the header and the metadata areas (16 bytes per chunk).
     */
    public long maxCowBytes(long masterBytes) {
        return space.maxCowBytes(masterBytes);
    }

    /**
     * Checks every clone's fill level once: tells {@code listener} of each at or past the policy's
     * warning level and of each lost clone (never grown: its writes are gone), and grows each store
     * at or past the growth level by the policy's percentage (at least one chunk, at most the size
     * that holds the whole master, which can never overflow).
     */
    @Override
    public List<Fill> checkFill(FillPolicy policy, FillListener listener) {
        return space.checkFill(policy, listener);
    }

    /**
     * Runs {@link #checkFill} every {@code period} on a thread of its own until the returned
     * handle (or the pool) is closed; each warning level is told once per clone (again after its
     * store grew), each lost clone once. Errors are logged and the watch goes on.
     */
    @Override
    public AutoCloseable watch(Duration period, FillPolicy policy, FillListener listener) {
        return space.watch(period, policy, listener);
    }

    void forget(CowWatch w) {
        space.forget(w);
    }

    // ---- promote and commit ----

    /**
     * Makes {@code clone} a new read-only master under its own name: a copy of its master takes the
     * clone's changes (the kernel's {@code snapshot-merge} target) and becomes {@code NAME.raw};
     * the clone's COW store is gone. Its master and siblings are untouched. The clone must not be
     * in use.
     *
     * @return the new master
     */
    @Override
    public Volume promote(String clone) {
        backend.require(Capability.PROMOTE);
        return merges.promote(clone);
    }

    /**
     * Writes {@code clone}'s changes into its master's file (the kernel's {@code snapshot-merge}
     * target), when it is the master's last clone; the clone is gone afterwards. Neither may be in
     * use. A merge the kernel cannot finish leaves the clone recorded and reading what it read.
     *
     * @return the master, now holding the clone's bytes
     * @throws MasterInUseException if the master has other clones
     */
    @Override
    public Volume commit(String clone) {
        backend.require(Capability.COMMIT);
        return merges.commit(clone);
    }

    // ---- deletion ----

    @Override
    public void delete(String name) {
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            Volume v = recorded(all, name);
            refuseDeleteWhileCloned(all, name);
            // Devices first: a device in use refuses, and then nothing has changed.
            if (v.isMaster()) {
                devices.deactivateMasterIfUnused(name);
            } else {
                devices.deactivateClone(name);
            }
            records.removed(name);
            all.remove(name);
            try {
                if (v.isMaster()) {
                    v.path().toFile().setWritable(true);
                }
                Files.deleteIfExists(v.path());
            } catch (IOException e) {
                throw CowIOException.wrap(v.path(), "deleting", e);
            }
            if (!v.isMaster()) {
                devices.deactivateMasterIfUnusedQuietly(v.master());
            }
            records.compactIfWorthIt(all);
        }
    }

    /** Stops the pool's watches; devices stay. */
    @Override
    public void close() {
        space.closeWatches();
    }

    // ---- files ----

    Path masterFile(String name) {
        return directory.resolve(name + MASTER_EXT);
    }

    Path cowFile(String name) {
        return directory.resolve(name + COW_EXT);
    }

    static long masterSize(Volume master) {
        try {
            return Files.size(master.path());
        } catch (IOException e) {
            throw CowIOException.wrap(master.path(), "reading the master's size", e);
        }
    }

    /** A new volume's name must be free in the record, on disk (both files) and among dm devices. */
    void checkFree(Map<String, Volume> all, String name) {
        refuseTakenName(all, name);
        for (Path file : List.of(masterFile(name), cowFile(name))) {
            if (Files.exists(file)) {
                throw PoolChecks.unrecordedFile(file, directory, "move it away");
            }
        }
        if (DeviceMapper.status(dmName(name)).isPresent()) {
            throw new VolumeExistsException("a device-mapper device named " + dmName(name) + " already exists; "
                    + "choose another name or give the pool a device prefix");
        }
    }

    static long roundUp(long v, long unit) {
        return (v + unit - 1) / unit * unit;
    }
}
