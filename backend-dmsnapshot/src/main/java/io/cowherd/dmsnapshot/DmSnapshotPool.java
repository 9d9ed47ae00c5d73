package io.cowherd.dmsnapshot;

import io.cowherd.io.BlockDeviceDisk;
import io.cowherd.Capability;
import io.cowherd.CowBackend;
import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.Fill;
import io.cowherd.FillListener;
import io.cowherd.FillPolicy;
import io.cowherd.ImagePolicy;
import io.cowherd.MasterInUseException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.Pool;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeInfo;
import io.cowherd.VolumeNames;
import io.cowherd.io.DiskCopier;
import io.cowherd.io.FileDisk;
import io.cowherd.io.HostFiles;
import io.cowherd.io.RawFormat;
import io.cowherd.pool.BackendRecord;
import io.cowherd.pool.PoolLock;
import io.cowherd.pool.PoolRecords;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
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
 */
public final class DmSnapshotPool implements Pool {
    private static final Logger LOG = LoggerFactory.getLogger(DmSnapshotPool.class);
    private static final String META_DIR = ".cowherd";
    private static final String MASTER_EXT = ".raw";
    private static final String COW_EXT = ".cow";
    /** The format recorded for COW store files (the guest-visible format stays raw). */
    static final String COW_FORMAT = "dm-snapshot-cow";

    private final DmSnapshotBackend backend;
    private final Path directory;
    private final Path meta;
    private final PoolSettings fresh;
    /** The recorded settings once the pool exists; {@code fresh} until then. */
    private volatile PoolSettings settings;
    /** Whether the pool's record exists (this object opened or made it). */
    private volatile boolean exists;
    private final PoolLock lock;
    private final PoolRecords records;
    private final List<CowWatch> watches = new CopyOnWriteArrayList<>();

    DmSnapshotPool(DmSnapshotBackend backend, Path directory, PoolSettings fresh) {
        this.backend = backend;
        this.directory = directory.toAbsolutePath().normalize();
        this.meta = this.directory.resolve(META_DIR);
        this.fresh = fresh;
        this.settings = fresh;
        this.lock = new PoolLock(meta.resolve("lock"));
        this.records = new PoolRecords(meta.resolve("volumes"), this.directory);
        if (Files.isDirectory(meta)) {
            openRecord();
        }
        // Otherwise the pool is made by its first import or adoption: opening creates nothing.
    }

    private synchronized void openRecord() {
        if (exists) {
            return;
        }
        try (PoolLock.Held held = lock.acquire()) {
            BackendRecord.claim(meta, backend);
            this.settings = PoolSettings.loadOrStore(meta, fresh);
        }
        exists = true;
    }

    /**
     * Makes the pool's directory and record if they do not exist yet.
     *
     * @return what this call created (the directory, or its record directory), to remove if the
     *         change that needed it fails; null if the pool existed
     */
    private synchronized Path create() {
        if (exists || Files.isDirectory(meta)) {
            openRecord();
            return null;
        }
        Path made = Files.isDirectory(directory) ? meta : directory;
        try {
            Files.createDirectories(meta);
        } catch (IOException e) {
            throw CowIOException.wrap(directory, "creating the pool", e);
        }
        try {
            openRecord();
        } catch (RuntimeException e) {
            uncreate(made, e);
            throw e;
        }
        return made;
    }

    /** After a failed first change: removes what {@link #create} made, unless a volume got recorded meanwhile. */
    private synchronized void uncreate(Path made, Exception cause) {
        if (made == null) {
            return;
        }
        try {
            if (Files.exists(meta.resolve("volumes")) && !records.load().isEmpty()) {
                return;
            }
            try (java.util.stream.Stream<Path> walk = Files.walk(made)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
            exists = false;
            settings = fresh;
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    /** The pool's lock, for a change or a read of the record. @throws NoSuchVolumeException if there is no pool yet */
    private PoolLock.Held locked() {
        if (!exists) {
            if (!Files.isDirectory(meta)) {
                throw new NoSuchVolumeException("pool " + directory + " records no volume (it does not exist yet)");
            }
            openRecord(); // another process made it meanwhile
        }
        return lock.acquire();
    }

    /** Whether the pool exists (it is made by its first import or adoption). */
    private boolean exists() {
        if (!exists && Files.isDirectory(meta)) {
            openRecord();
        }
        return exists;
    }

    @Override
    public Path location() {
        return directory;
    }

    @Override
    public CowBackend backend() {
        return backend;
    }

    /** The pool's settings (chunk size, device prefix, initial COW size, identity). */
    public PoolSettings settings() {
        return settings;
    }

    // ---- masters ----

    @Override
    public Volume importMaster(String name, Path source, String sourceFormat) {
        backend.require(Capability.IMPORT);
        checkName(name);
        Path made = create();
        try {
            return importInto(name, source, sourceFormat);
        } catch (RuntimeException e) {
            uncreate(made, e); // a failed first import leaves no pool behind
            throw e;
        }
    }

    private Volume importInto(String name, Path source, String sourceFormat) {
        Path target = masterFile(name);
        try (PoolLock.Held held = locked()) {
            checkFree(records.load(), name);
        }
        // Convert outside the lock (a big master must not stall clones), with our own readers.
        ImagePolicy sourcePolicy = ImagePolicy.operator();
        ImageFormat in = ImageFormats.byName(sourceFormat);
        sourcePolicy.checkFormat(source, in.name());
        Path staged = directory.resolve("." + name + ".import");
        try {
            try (VirtualDisk disk = in.open(source, sourcePolicy, false, 0)) {
                DiskCopier.copy(disk, new RawFormat(), staged, ImagePolicy.confinedTo(directory));
            } catch (IOException e) {
                throw CowIOException.wrap(source, "reading", e);
            }
            padToSectors(staged);
            try (PoolLock.Held held = locked()) {
                checkFree(records.load(), name);
                Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
                makeReadOnly(target);
                Volume master = new Volume(name, Volume.Role.MASTER, null, target, RawFormat.NAME);
                records.added(List.of(master));
                LOG.info("imported {} ({}) as master '{}' in {}", source, in.name(), name, directory);
                return master;
            }
        } catch (IOException e) {
            throw CowIOException.wrap(target, "placing the imported master", e);
        } finally {
            deleteQuietly(staged);
        }
    }

    @Override
    public Volume adoptMaster(String name, Path image) {
        checkName(name);
        Path made = create();
        try {
            return adopt(name, image);
        } catch (RuntimeException e) {
            uncreate(made, e);
            throw e;
        }
    }

    private Volume adopt(String name, Path image) {
        Path target = image.toAbsolutePath().normalize();
        if (!directory.equals(target.getParent())) {
            throw new io.cowherd.UnsafeBackingException(image + " is not directly inside pool " + directory
                    + "; import it instead");
        }
        try {
            if (Files.size(target) % 512 != 0) {
                throw new UnsupportedFeatureException(image + " is " + Files.size(target) + " bytes, not a whole "
                        + "number of 512-byte sectors, so a loop device would cut it; import it instead (pads it)");
            }
        } catch (IOException e) {
            throw CowIOException.wrap(target, "adopting", e);
        }
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            if (all.containsKey(name) || all.values().stream().anyMatch(v -> v.path().equals(target))) {
                throw new VolumeExistsException("pool " + directory + " already records '" + name + "' or " + target);
            }
            makeReadOnly(target);
            Volume master = new Volume(name, Volume.Role.MASTER, null, target, RawFormat.NAME);
            records.added(List.of(master));
            return master;
        }
    }

    // ---- clones ----

    @Override
    public Volume createClone(String master, String clone) {
        return createClones(master, List.of(clone)).get(0);
    }

    @Override
    public List<Volume> createClones(String master, List<String> clones) {
        return createClones(master, clones, settings.cowPercent());
    }

    /** Clones whose COW store files start at {@code cowPercent} of what would hold the whole master. */
    @Override
    public List<Volume> createClones(String master, List<String> clones, int cowPercent) {
        backend.require(Capability.CLONE);
        backend.require(Capability.FILL);
        PoolSettings.checkCowPercent(cowPercent);
        clones.forEach(this::checkName);
        if (clones.stream().distinct().count() != clones.size()) {
            throw new IllegalArgumentException("clone names repeat: " + clones);
        }
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            Volume parent = all.get(master);
            if (parent == null) {
                throw new NoSuchVolumeException("no master named '" + master + "' in pool " + directory);
            }
            if (!parent.isMaster()) {
                throw new UnsupportedFeatureException("'" + master + "' is a clone, not a master; clone a master "
                        + "or merge this clone into a new master first");
            }
            for (String c : clones) {
                checkFree(all, c);
            }
            long size = masterSize(parent);
            List<Volume> made = new ArrayList<>(clones.size());
            try {
                MasterDevice md = activateMaster(parent, size);
                long cowBytes = initialCowBytes(size, cowPercent);
                for (String c : clones) {
                    Path cow = cowFile(c);
                    createSparse(cow, cowBytes);
                    made.add(new Volume(c, Volume.Role.CLONE, master, cow, COW_FORMAT));
                    activateClone(c, cow, md, size);
                }
                records.added(made);
            } catch (RuntimeException e) {
                // Undo in reverse: devices, loop devices and files that this call created.
                for (int i = made.size() - 1; i >= 0; i--) {
                    try {
                        deactivateClone(made.get(i).name());
                    } catch (RuntimeException cleanup) {
                        e.addSuppressed(cleanup);
                    }
                    deleteQuietly(made.get(i).path());
                }
                try {
                    deactivateMasterIfUnused(parent.name());
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
            LOG.debug("created {} clone(s) of '{}' in {}", made.size(), master, directory);
            return made.stream().map(this::visible).toList();
        }
    }

    // ---- queries ----

    @Override
    public Optional<Volume> find(String name) {
        if (!exists()) {
            return Optional.empty();
        }
        try (PoolLock.Held held = locked()) {
            return Optional.ofNullable(records.load().get(name)).map(this::visible);
        }
    }

    @Override
    public List<Volume> volumes() {
        Map<String, Volume> all = recorded();
        List<Volume> out = new ArrayList<>();
        all.values().stream().filter(Volume::isMaster).map(this::visible).forEach(out::add);
        all.values().stream().filter(v -> !v.isMaster()).map(this::visible).forEach(out::add);
        return out;
    }

    @Override
    public List<Volume> clonesOf(String master) {
        return recorded().values().stream().filter(v -> master.equals(v.master())).map(this::visible).toList();
    }

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
                    HostFiles.allocatedBytes(v.path()), settings.chunkBytes(), m.path().getFileName().toString(),
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
        return Path.of("/dev/mapper", dmName(name));
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
        return ourDevice(name).isPresent();
    }

    /**
     * The kernel's status of a clone's snapshot.
     *
     * @return the status; state {@link CowUsage.State#INACTIVE} when the clone has no device now
     */
    CowUsage cowStatus(String clone) {
        cowStoreOf(clone);
        if (ourDevice(clone).isEmpty()) {
            return new CowUsage(clone, CowUsage.State.INACTIVE, 0, 0, 0);
        }
        return CowUsage.parse(clone, DeviceMapper.targetStatus(dmName(clone)));
    }

    /**
     * How full a clone's COW store is: from the kernel's status while the clone is active, else
     * from the store's own header and metadata on disk (after a reboot the kernel knows nothing).
     * A snapshot the kernel invalidated (overflow, failure) is reported lost, now or after a reboot.
     */
    public Fill fill(String clone) {
        Path cow = cowStoreOf(clone);
        long bytes;
        try {
            bytes = Files.size(cow);
        } catch (IOException e) {
            throw CowIOException.wrap(cow, "reading the COW store's size", e);
        }
        CowUsage u = cowStatus(clone);
        if (u.state() != CowUsage.State.INACTIVE) {
            return new Fill(Fill.Kind.SNAPSHOT_COW, clone, u.percentFull(), bytes, u.lost());
        }
        CowStore disk = CowStore.read(cow);
        if (disk.state() == CowStore.State.INVALID) {
            return new Fill(Fill.Kind.SNAPSHOT_COW, clone, 100, bytes, true);
        }
        double pct = bytes == 0 ? 0 : Math.min(100, 100.0 * disk.usedChunks() * settings.chunkBytes() / bytes);
        return new Fill(Fill.Kind.SNAPSHOT_COW, clone, pct, bytes, false);
    }

    /** {@link #fill} of every clone in the pool, in creation order. */
    @Override
    public List<Fill> usage() {
        return recorded().values().stream().filter(v -> !v.isMaster()).map(v -> fill(v.name())).toList();
    }

    /** Whether the clone's snapshot is lost, by the kernel's status or, when inactive, its store's header. */
    private boolean lost(Volume clone) {
        if (ourDevice(clone.name()).isPresent()) {
            return CowUsage.parse(clone.name(), DeviceMapper.targetStatus(dmName(clone.name()))).lost();
        }
        return CowStore.read(clone.path()).state() == CowStore.State.INVALID;
    }

    /**
     * Throws {@link CowStoreFullException} naming the clone if its snapshot is lost (its store
     * overflowed or failed).
     */
    public void checkHealthy(String clone) {
        if (fill(clone).lost()) {
            throw overflowed(clone);
        }
    }

    private CowStoreFullException overflowed(String clone) {
        long bytes;
        try {
            bytes = Files.size(cowFile(clone));
        } catch (IOException e) {
            bytes = -1;
        }
        return new CowStoreFullException(clone, "clone '" + clone + "' in pool " + directory + " overflowed its "
                + "copy-on-write store " + cowFile(clone) + " (" + bytes + " bytes) and the kernel invalidated it: "
                + "its writes are lost for good; delete it and clone again (run a watch, or give clones a larger "
                + "initial COW store, to grow stores before they fill)");
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
            if (ourDevice(name).isEmpty()) {
                activate(name);
            }
            long size = Files.size(recorded(v.master()).path());
            return new BlockDeviceDisk(deviceOf(name), size, writable, e -> {
                if (cowStatus(name).lost()) {
                    CowStoreFullException full = overflowed(name);
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
        List<String> active = new ArrayList<>();
        if (!exists()) {
            return active;
        }
        int made = 0;
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            for (Volume v : all.values()) {
                if (v.isMaster()) {
                    continue;
                }
                if (lost(v)) {
                    LOG.warn("clone '{}' of pool {} is lost (its snapshot overflowed or failed): not activated",
                            v.name(), directory);
                    continue;
                }
                if (activateRecorded(all, v)) {
                    made++;
                }
                active.add(v.name());
            }
        }
        LOG.info("activated {} clone(s) of pool {}, {} active", made, directory, active.size());
        return active;
    }

    /** Creates the device of clone {@code name} (and its master's) if it does not exist. */
    public void activate(String name) {
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            Volume v = all.get(name);
            if (v == null) {
                throw new NoSuchVolumeException("no volume named '" + name + "' in pool " + directory);
            }
            if (v.isMaster()) {
                activateMaster(v, masterSize(v));
            } else {
                if (ourDevice(name).isEmpty() && lost(v)) {
                    throw overflowed(name);
                }
                activateRecorded(all, v);
            }
        }
    }

    private boolean activateRecorded(Map<String, Volume> all, Volume clone) {
        if (ourDevice(clone.name()).isPresent()) {
            return false;
        }
        Volume master = all.get(clone.master());
        long size = masterSize(master);
        MasterDevice md = activateMaster(master, size);
        try {
            activateClone(clone.name(), clone.path(), md, size);
        } catch (RuntimeException e) {
            try {
                deactivateMasterIfUnused(master.name());
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        return true;
    }

    /**
     * Removes the devices of every clone and master of the pool and detaches their loop devices;
     * files and records stay, and {@link #activate()} brings them back.
     *
     * @throws DeviceBusyException naming the devices still open; the others are deactivated
     */
    @Override
    public void deactivate() {
        List<String> busy = new ArrayList<>();
        if (!exists()) {
            return;
        }
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            for (Volume v : all.values()) {
                if (!v.isMaster()) {
                    try {
                        deactivateClone(v.name());
                    } catch (DeviceBusyException e) {
                        busy.add(v.name());
                    }
                }
            }
            for (Volume v : all.values()) {
                if (v.isMaster()) {
                    try {
                        deactivateMasterIfUnused(v.name());
                    } catch (DeviceBusyException e) {
                        busy.add(v.name());
                    }
                }
            }
        }
        if (!busy.isEmpty()) {
            throw new DeviceBusyException("pool " + directory + ": devices still open, left active: " + busy
                    + "; stop what uses them and deactivate again");
        }
    }

    /** Removes the device of clone {@code name} and detaches its loop device (its master's too, once unused). */
    public void deactivate(String name) {
        try (PoolLock.Held held = locked()) {
            Volume v = recorded(records.load(), name);
            if (v.isMaster()) {
                deactivateMasterIfUnused(name);
            } else {
                deactivateClone(name);
                deactivateMasterIfUnused(v.master());
            }
        }
    }

    /** A master's device: its dm device number, for snapshot tables. */
    private record MasterDevice(String majorMinor) {
    }

    private MasterDevice activateMaster(Volume master, long size) {
        String dm = dmName(master.name());
        Optional<DeviceMapper.Device> existing = ourDevice(master.name());
        if (existing.isPresent()) {
            return new MasterDevice(existing.get().major() + ":" + existing.get().minor());
        }
        LoopDevices.Loop loop = LoopDevices.attach(master.path(), true);
        try {
            DeviceMapper.Device d = DeviceMapper.create(dm, uuid(master.name()), "linear",
                    loop.majorMinor() + " 0", size / 512, true);
            link(master.name(), d);
            LOG.debug("master '{}' active as {} over /dev/loop{}", master.name(), deviceOf(master.name()), loop.number());
            return new MasterDevice(d.major() + ":" + d.minor());
        } catch (RuntimeException e) {
            detachQuietly(loop.number(), e);
            throw e;
        }
    }

    private void activateClone(String name, Path cow, MasterDevice md, long size) {
        LoopDevices.Loop loop = LoopDevices.attach(cow, false);
        try {
            DeviceMapper.Device d = DeviceMapper.create(dmName(name), uuid(name), "snapshot",
                    snapshotParams(md.majorMinor(), loop.majorMinor()), size / 512, false);
            link(name, d);
        } catch (RuntimeException e) {
            detachQuietly(loop.number(), e);
            throw e;
        }
    }

    private String snapshotParams(String origin, String cow) {
        // P: persistent store, so the clone survives deactivation and reboots.
        return origin + " " + cow + " P " + settings.chunkSectors();
    }

    /** Removes a clone's device and detaches its COW loop device; a clone without a device is fine. */
    private void deactivateClone(String name) {
        Optional<DeviceMapper.Device> d = ourDevice(name);
        if (d.isEmpty()) {
            return;
        }
        int cowLoop = loopOfTable(DeviceMapper.table(dmName(name)), 1);
        DeviceMapper.remove(dmName(name));
        unlink(name);
        if (cowLoop >= 0) {
            LoopDevices.detach(cowLoop);
        }
    }

    /** Removes a master's device and its loop device unless a clone's device still uses it. */
    private void deactivateMasterIfUnused(String master) {
        Optional<DeviceMapper.Device> d = ourDevice(master);
        if (d.isEmpty()) {
            return;
        }
        if (d.get().openCount() > 0) {
            throw new DeviceBusyException("master device " + deviceOf(master) + " is in use (open count "
                    + d.get().openCount() + ")");
        }
        int loop = loopOfTable(DeviceMapper.table(dmName(master)), 0);
        DeviceMapper.remove(dmName(master));
        unlink(master);
        if (loop >= 0) {
            LoopDevices.detach(loop);
        }
    }

    private void deactivateMasterIfUnusedQuietly(String master) {
        try {
            deactivateMasterIfUnused(master);
        } catch (DeviceBusyException e) {
            LOG.debug("master '{}' stays active: {}", master, e.getMessage());
        }
    }

    /** The loop device number of the {@code index}th device argument of a one-target table. */
    private static int loopOfTable(String table, int index) {
        String[] f = table.trim().split("\\s+");
        if (f.length <= index) {
            return -1;
        }
        String[] mm = f[index].split(":");
        if (mm.length == 2 && mm[0].equals("7")) {
            return Integer.parseInt(mm[1]);
        }
        return -1;
    }

    /** The device of {@code name} if it exists and is this pool's; throws if a stranger holds the name. */
    private Optional<DeviceMapper.Device> ourDevice(String name) {
        Optional<DeviceMapper.Device> d = DeviceMapper.status(dmName(name));
        if (d.isPresent() && !d.get().uuid().equals(uuid(name))) {
            throw new VolumeExistsException("device-mapper device " + dmName(name) + " exists but is not pool "
                    + directory + "'s (uuid '" + d.get().uuid() + "'); rename it or give this pool a device prefix");
        }
        return d;
    }

    /** /dev/mapper/NAME as udev would make it, when no udev does (containers, the test kernel). */
    private void link(String name, DeviceMapper.Device d) {
        Path link = deviceOf(name);
        try {
            if (!Files.exists(link)) {
                Files.deleteIfExists(link); // a dangling link left by a crash
                Files.createSymbolicLink(link, Path.of("..", "dm-" + d.minor()));
            }
        } catch (java.nio.file.FileAlreadyExistsException e) {
            LOG.debug("{} appeared meanwhile (udev)", link);
        } catch (IOException e) {
            throw CowIOException.wrap(link, "linking the device", e);
        }
    }

    private void unlink(String name) {
        Path link = deviceOf(name);
        try {
            if (Files.isSymbolicLink(link)) {
                Files.deleteIfExists(link);
            }
        } catch (IOException e) {
            LOG.debug("could not remove {}: {}", link, e.toString());
        }
    }

    // ---- growth ----

    /**
     * Grows a clone's COW store to {@code newBytes} while the clone stays in use: extends the
     * sparse file, makes its loop device take the new size and reloads the snapshot table
     * (suspend, load, resume), as {@code lvextend} does for a snapshot. Never shrinks.
     *
     * @return the store's size afterwards
     */
    public long growCowStore(String clone, long newBytes) {
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            Volume v = recorded(all, clone);
            if (v.isMaster()) {
                throw new IllegalArgumentException("'" + clone + "' is a master and has no COW store");
            }
            long masterBytes = masterSize(all.get(v.master()));
            long now = Files.size(v.path());
            long target = Math.min(roundUp(newBytes, settings.chunkBytes()), maxCowBytes(masterBytes));
            if (target <= now) {
                return now;
            }
            try (RandomAccessFile f = new RandomAccessFile(v.path().toFile(), "rw")) {
                f.setLength(target);
            }
            if (ourDevice(clone).isPresent()) {
                String dm = dmName(clone);
                String table = DeviceMapper.table(dm);
                LoopDevices.refreshCapacity(loopOfTable(table, 1));
                long sectors = masterBytes / 512;
                DeviceMapper.suspend(dm);
                try {
                    DeviceMapper.load(dm, "snapshot", table, sectors, false);
                } finally {
                    DeviceMapper.resume(dm);
                }
            }
            LOG.info("grew the COW store of clone '{}' from {} to {} bytes", clone, now, target);
            return target;
        } catch (IOException e) {
            throw CowIOException.wrap(cowFile(clone), "growing", e);
        }
    }

    /**
     * The largest COW store a clone of a {@code masterBytes} master can ever need: every chunk
     * copied once, plus the header and the metadata areas (16 bytes per chunk).
     */
    public long maxCowBytes(long masterBytes) {
        long chunk = settings.chunkBytes();
        long data = (masterBytes + chunk - 1) / chunk;
        long perArea = chunk / 16;
        long areas = (data + perArea - 1) / perArea;
        return (1 + data + areas + 1) * chunk;
    }

    private long initialCowBytes(long masterBytes, int cowPercent) {
        long chunk = settings.chunkBytes();
        long full = maxCowBytes(masterBytes);
        long want = full * cowPercent / 100;
        // At least the header, one metadata area and a few data chunks.
        return Math.min(full, Math.max(roundUp(want, chunk), 8 * chunk));
    }

    /**
     * Checks every clone's fill level once: tells {@code listener} of each at or past the policy's
     * warning level and of each lost clone (never grown: its writes are gone), and grows each store
     * at or past the growth level by the policy's percentage (at least one chunk, at most the size
     * that holds the whole master, which can never overflow).
     */
    @Override
    public List<Fill> checkFill(FillPolicy policy, FillListener listener) {
        List<Fill> fills = usage();
        for (Fill f : fills) {
            if (f.lost()) {
                LOG.debug("{}", overflowed(f.volume()).getMessage()); // the watch logs it once
                listener.lost(f);
                continue;
            }
            if (f.percent() >= policy.warnPercent()) {
                LOG.debug("COW store of clone '{}' in pool {} is {}% full ({} bytes)", f.volume(), directory,
                        String.format("%.1f", f.percent()), f.size());
                listener.warning(f, policy.warnPercent());
            }
            if (f.percent() >= policy.extendPercent()) {
                grow(f, policy, listener);
            }
        }
        return fills;
    }

    private void grow(Fill f, FillPolicy policy, FillListener listener) {
        long max;
        try {
            max = maxCowBytes(masterSize(recorded(recorded(f.volume()).master())));
        } catch (NoSuchVolumeException gone) {
            return; // deleted meanwhile
        }
        if (f.size() >= max) {
            return; // holds every chunk of the master: cannot overflow
        }
        long want = Math.max(f.size() + f.size() * policy.extendByPercent() / 100, f.size() + settings.chunkBytes());
        try {
            long got = growCowStore(f.volume(), want);
            if (got > f.size()) {
                listener.extended(f, got);
            }
        } catch (CowException e) {
            LOG.warn("cannot grow the COW store of clone '{}': {}", f.volume(), e.getMessage());
            listener.cannotExtend(f, e.getMessage());
        }
    }

    /**
     * Runs {@link #checkFill} every {@code period} on a thread of its own until the returned
     * handle (or the pool) is closed; each warning level is told once per clone (again after its
     * store grew), each lost clone once. Errors are logged and the watch goes on.
     */
    @Override
    public AutoCloseable watch(Duration period, FillPolicy policy, FillListener listener) {
        CowWatch w = new CowWatch(this, period, policy, listener);
        watches.add(w);
        return w;
    }

    void forget(CowWatch w) {
        watches.remove(w);
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
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            Volume c = cloneFor(all, clone, "promoted");
            Path target = masterFile(clone);
            if (Files.exists(target)) {
                throw new VolumeExistsException(target + " already exists but is not recorded in pool " + directory
                        + "; move it away to promote '" + clone + "'");
            }
            Volume oldMaster = all.get(c.master());
            long size = masterSize(oldMaster);
            boolean wasActive = ourDevice(clone).isPresent();
            deactivateClone(clone); // refuses while in use, and then nothing has changed
            Volume promoted = new Volume(clone, Volume.Role.MASTER, null, target, RawFormat.NAME);
            try {
                try (VirtualDisk src = new FileDisk(oldMaster.path(), false)) {
                    DiskCopier.copy(src, new RawFormat(), target, ImagePolicy.confinedTo(directory));
                }
                merge(clone, c.path(), target, size);
                makeReadOnly(target);
                records.replaced(promoted);
            } catch (IOException | RuntimeException e) {
                deleteQuietly(target);
                reactivateAfterFailure(all, c, wasActive, e);
                if (e instanceof IOException io) {
                    throw CowIOException.wrap(target, "promoting into", io);
                }
                throw (RuntimeException) e;
            }
            deleteQuietly(c.path());
            deactivateMasterIfUnusedQuietly(oldMaster.name());
            LOG.info("promoted clone '{}' to a master ({}) in {}", clone, target, directory);
            return promoted;
        }
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
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            Volume c = cloneFor(all, clone, "committed");
            Volume master = all.get(c.master());
            List<String> others = all.values().stream().filter(v -> master.name().equals(v.master()))
                    .map(Volume::name).filter(n -> !n.equals(clone)).toList();
            if (!others.isEmpty()) {
                throw new MasterInUseException(directory.toString(), master.name(), others,
                        "commit clone '" + clone + "' into it", "delete the other clones first, or promote '" + clone
                                + "' to a master of its own instead");
            }
            long size = masterSize(master);
            boolean wasActive = ourDevice(clone).isPresent();
            deactivateClone(clone);
            try {
                deactivateMasterIfUnused(master.name());
                makeWritable(master.path());
                merge(clone, c.path(), master.path(), size);
            } catch (RuntimeException e) {
                makeReadOnly(master.path());
                reactivateAfterFailure(all, c, wasActive, e);
                throw e;
            }
            makeReadOnly(master.path());
            records.removed(clone);
            all.remove(clone);
            deleteQuietly(c.path());
            records.compactIfWorthIt(all);
            LOG.info("committed clone '{}' into master '{}' in {}", clone, master.name(), directory);
            return master;
        }
    }

    private Volume cloneFor(Map<String, Volume> all, String clone, String what) {
        Volume c = recorded(all, clone);
        if (c.isMaster()) {
            throw new UnsupportedFeatureException("'" + clone + "' is a master; only a clone can be " + what);
        }
        if (lost(c)) {
            throw overflowed(clone);
        }
        return c;
    }

    private void reactivateAfterFailure(Map<String, Volume> all, Volume clone, boolean wasActive, Exception cause) {
        if (wasActive) {
            try {
                activateRecorded(all, clone);
            } catch (RuntimeException again) {
                cause.addSuppressed(again);
            }
        }
    }

    private void merge(String clone, Path cow, Path target, long size) {
        String dm = "cowherd-merge-" + settings.poolId() + "-" + clone;
        if (dm.length() > 127) {
            dm = dm.substring(0, 127);
        }
        LoopDevices.Loop origin = LoopDevices.attach(target, false);
        LoopDevices.Loop store = null;
        boolean created = false;
        try {
            store = LoopDevices.attach(cow, false);
            DeviceMapper.create(dm, null, "snapshot-merge", snapshotParams(origin.majorMinor(), store.majorMinor()),
                    size / 512, false);
            created = true;
            long deadline = System.nanoTime() + 600_000_000_000L;
            while (true) {
                String status = DeviceMapper.targetStatus(dm);
                CowUsage u = CowUsage.parse(clone, status);
                if (u.lost()) {
                    throw new KernelException("merging clone '" + clone + "' failed: snapshot-merge status '" + status
                            + "'", 0);
                }
                if (u.allocatedSectors() <= u.metadataSectors()) {
                    break; // only metadata left: every chunk is back in the origin
                }
                if (System.nanoTime() > deadline) {
                    throw new KernelException("merging clone '" + clone + "' did not finish in 10 minutes", 0);
                }
                sleep(10);
            }
        } finally {
            RuntimeException failure = null;
            if (created) {
                try {
                    DeviceMapper.remove(dm);
                } catch (RuntimeException e) {
                    failure = e;
                }
            }
            if (store != null) {
                LoopDevices.detach(store.number());
            }
            LoopDevices.detach(origin.number());
            if (failure != null) {
                throw failure;
            }
        }
    }

    // ---- deletion ----

    @Override
    public void delete(String name) {
        try (PoolLock.Held held = locked()) {
            Map<String, Volume> all = records.load();
            Volume v = recorded(all, name);
            List<Volume> dependents = all.values().stream().filter(x -> name.equals(x.master())).toList();
            if (!dependents.isEmpty()) {
                throw new MasterInUseException(directory.toString(), name, dependents.stream().map(Volume::name).toList());
            }
            // Devices first: a device in use refuses, and then nothing has changed.
            if (v.isMaster()) {
                deactivateMasterIfUnused(name);
            } else {
                deactivateClone(name);
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
                deactivateMasterIfUnusedQuietly(v.master());
            }
            records.compactIfWorthIt(all);
        }
    }

    @Override
    public void close() {
        for (CowWatch w : List.copyOf(watches)) {
            w.close();
        }
    }

    @Override
    public String toString() {
        return backend.name() + " pool " + directory;
    }

    // ---- helpers ----

    /** The device-mapper name of volume {@code name}. */
    public String dmName(String name) {
        return settings.devicePrefix() + name;
    }

    private String uuid(String name) {
        return "COWHERD-" + settings.poolId() + "-" + name;
    }

    /** The dm uuid prefix of every device of this pool. */
    public String uuidPrefix() {
        return "COWHERD-" + settings.poolId() + "-";
    }

    private Map<String, Volume> recorded() {
        if (!exists()) {
            return new java.util.LinkedHashMap<>();
        }
        try (PoolLock.Held held = locked()) {
            return records.load();
        }
    }

    private Volume recorded(String name) {
        return recorded(recorded(), name);
    }

    private Volume recorded(Map<String, Volume> all, String name) {
        Volume v = all.get(name);
        if (v == null) {
            throw new NoSuchVolumeException("no volume named '" + name + "' in pool " + directory);
        }
        return v;
    }

    /** The public face of a recorded volume: a clone is its device, in raw format. */
    private Volume visible(Volume v) {
        if (v.isMaster()) {
            return v;
        }
        return new Volume(v.name(), v.role(), v.master(), deviceOf(v.name()), RawFormat.NAME);
    }

    private Path masterFile(String name) {
        return directory.resolve(name + MASTER_EXT);
    }

    private Path cowFile(String name) {
        return directory.resolve(name + COW_EXT);
    }

    private static long masterSize(Volume master) {
        try {
            return Files.size(master.path());
        } catch (IOException e) {
            throw CowIOException.wrap(master.path(), "reading the master's size", e);
        }
    }

    private void checkName(String name) {
        VolumeNames.check(name);
    }

    private void checkFree(Map<String, Volume> all, String name) {
        if (all.containsKey(name)) {
            throw new VolumeExistsException("pool " + directory + " already has a volume named '" + name + "'");
        }
        for (Path file : List.of(masterFile(name), cowFile(name))) {
            if (Files.exists(file)) {
                throw new VolumeExistsException(file + " already exists but is not recorded in pool " + directory
                        + "; move it away");
            }
        }
        if (DeviceMapper.status(dmName(name)).isPresent()) {
            throw new VolumeExistsException("a device-mapper device named " + dmName(name) + " already exists; "
                    + "choose another name or give the pool a device prefix");
        }
    }

    private static void createSparse(Path file, long bytes) {
        try {
            Files.createFile(file);
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                f.setLength(bytes);
            }
        } catch (IOException e) {
            throw CowIOException.wrap(file, "creating the COW store", e);
        }
    }

    /** A loop device sees whole sectors only: pad the master with zeros to the next one. */
    private static void padToSectors(Path file) throws IOException {
        long size = Files.size(file);
        if (size % 512 != 0) {
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                f.setLength(roundUp(size, 512));
            }
        }
    }

    private static long roundUp(long v, long unit) {
        return (v + unit - 1) / unit * unit;
    }

    private static void detachQuietly(int loop, RuntimeException cause) {
        try {
            LoopDevices.detach(loop);
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    private static void makeWritable(Path file) {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("could not make {} writable on disk: {}", file, e.toString());
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
        } catch (IOException | CowException e) {
            LOG.debug("could not remove {}: {}", p, e.toString());
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CowException("interrupted", e);
        }
    }
}
