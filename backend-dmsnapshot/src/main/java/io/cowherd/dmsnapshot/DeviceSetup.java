package io.cowherd.dmsnapshot;

import io.cowherd.CowIOException;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.internal.pool.PoolFiles;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel side of a dm-snapshot pool, one volume at a time: a master is a loop device under a
 * read-only {@code linear} device, a clone a loop device on its COW store under a persistent
 * {@code snapshot} device over its master's. Devices carry the dm uuid
 * {@code COWHERD-<pool id>-<name>}; a device of the same name without it belongs to someone else
 * and is never touched. Every step that fails undoes what it attached. Callers hold the pool's lock.
 */
final class DeviceSetup {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceSetup.class);

    private final Path directory;
    /** The pool's settings, read each time: they change when the pool's record is made or opened. */
    private final Supplier<PoolSettings> settings;

    DeviceSetup(Path directory, Supplier<PoolSettings> settings) {
        this.directory = directory;
        this.settings = settings;
    }

    /** A master's device: its dm device number, for snapshot tables. */
    record MasterDevice(String majorMinor) {
    }

    /** The device-mapper name of volume {@code name}. */
    String dmName(String name) {
        return settings.get().devicePrefix() + name;
    }

    /** The dm uuid prefix of every device of this pool. */
    String uuidPrefix() {
        return "COWHERD-" + settings.get().poolId() + "-";
    }

    private String uuid(String name) {
        return uuidPrefix() + name;
    }

    /** The guest-visible device of a volume: {@code /dev/mapper/PREFIX+NAME}. */
    Path deviceOf(String name) {
        return Path.of("/dev/mapper", dmName(name));
    }

    /** The device of {@code name} if it exists and is this pool's; throws if a stranger holds the name. */
    Optional<DeviceMapper.Device> ourDevice(String name) {
        Optional<DeviceMapper.Device> d = DeviceMapper.status(dmName(name));
        if (d.isPresent() && !d.get().uuid().equals(uuid(name))) {
            throw new VolumeExistsException("device-mapper device " + dmName(name) + " exists but is not pool "
                    + directory + "'s (uuid '" + d.get().uuid() + "'); rename it or give this pool a device prefix");
        }
        return d;
    }

    /** The kernel's status line of a volume's device (which must exist). */
    String targetStatus(String name) {
        return DeviceMapper.targetStatus(dmName(name));
    }

    /** Table parameters of a snapshot of {@code origin} (major:minor) stored in {@code cow}. */
    String snapshotParams(String origin, String cow) {
        // P: persistent store, so the clone survives deactivation and reboots.
        return origin + " " + cow + " P " + settings.get().chunkSectors();
    }

    // ---- activation ----

    /** Creates clone {@code clone}'s device (and its master's) unless it exists; returns whether it made it. */
    boolean activateRecorded(Map<String, Volume> all, Volume clone) {
        if (ourDevice(clone.name()).isPresent()) {
            return false;
        }
        Volume master = all.get(clone.master());
        long size = DmSnapshotPool.masterSize(master);
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

    /** The master's device, made (loop device, then linear table) if it does not exist. */
    MasterDevice activateMaster(Volume master, long size) {
        Optional<DeviceMapper.Device> existing = ourDevice(master.name());
        if (existing.isPresent()) {
            return new MasterDevice(existing.get().major() + ":" + existing.get().minor());
        }
        LoopDevices.Loop loop = LoopDevices.attach(master.path(), true);
        try {
            DeviceMapper.Device d = DeviceMapper.create(dmName(master.name()), uuid(master.name()), "linear",
                    loop.majorMinor() + " 0", size / 512, true);
            link(master.name(), d);
            LOG.debug("master '{}' active as {} over /dev/loop{}", master.name(), deviceOf(master.name()), loop.number());
            return new MasterDevice(d.major() + ":" + d.minor());
        } catch (RuntimeException e) {
            detachQuietly(loop.number(), e);
            throw e;
        }
    }

    /** A clone's device: its store on a loop device under a snapshot table over the master's device. */
    void activateClone(String name, Path cow, MasterDevice md, long size) {
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

    // ---- deactivation ----

    /** Removes a clone's device and detaches its COW loop device; a clone without a device is fine. */
    void deactivateClone(String name) {
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
    void deactivateMasterIfUnused(String master) {
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

    /** As {@link #deactivateMasterIfUnused}, leaving a master in use active without complaint. */
    void deactivateMasterIfUnusedQuietly(String master) {
        try {
            deactivateMasterIfUnused(master);
        } catch (DeviceBusyException e) {
            LOG.debug("master '{}' stays active: {}", master, e.getMessage());
        }
    }

    // ---- several at once ----

    /**
     * Creates clones {@code names} of {@code parent} ({@code size} bytes): for each a sparse store
     * file of {@code cowBytes} and its device, over the master's device (made if need be). On
     * failure undoes what it made ({@link #undoClones}) and throws.
     *
     * @return the clones as recorded (their stores), in order
     */
    List<Volume> createClones(Volume parent, List<String> names, long size, long cowBytes,
            Function<String, Path> cowFile) {
        List<Volume> made = new ArrayList<>(names.size());
        try {
            MasterDevice md = activateMaster(parent, size);
            for (String c : names) {
                Path cow = cowFile.apply(c);
                createSparse(cow, cowBytes);
                made.add(new Volume(c, Volume.Role.CLONE, parent.name(), cow, DmSnapshotPool.COW_FORMAT));
                activateClone(c, cow, md, size);
            }
        } catch (RuntimeException e) {
            undoClones(parent, made, e);
            throw e;
        }
        return made;
    }

    /** Undoes a failed {@link #createClones} in reverse: devices, loop devices and files that it created. */
    void undoClones(Volume parent, List<Volume> made, RuntimeException e) {
        for (int i = made.size() - 1; i >= 0; i--) {
            try {
                deactivateClone(made.get(i).name());
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            PoolFiles.deleteQuietly(made.get(i).path());
        }
        try {
            deactivateMasterIfUnused(parent.name());
        } catch (RuntimeException cleanup) {
            e.addSuppressed(cleanup);
        }
    }

    /**
     * Removes the devices of every volume in {@code all}, clones first (a master's device is busy
     * while a clone's is on it).
     *
     * @return the volumes whose devices were still open and stay
     */
    List<String> deactivateAll(Map<String, Volume> all) {
        List<String> busy = new ArrayList<>();
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
        return busy;
    }

    // ---- growth ----

    /**
     * Makes an active clone's device see its grown store: the loop device takes the file's new
     * size and the snapshot table is reloaded (suspend, load, resume), as {@code lvextend} does.
     */
    void reloadGrownStore(String clone, long masterBytes) {
        String dm = dmName(clone);
        String table = DeviceMapper.table(dm);
        LoopDevices.refreshCapacity(loopOfTable(table, 1));
        DeviceMapper.suspend(dm);
        try {
            DeviceMapper.load(dm, "snapshot", table, masterBytes / 512, false);
        } finally {
            DeviceMapper.resume(dm);
        }
    }

    // ---- helpers ----

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

    /** Detaches a loop device after a failure, keeping the failure as the error. */
    static void detachQuietly(int loop, RuntimeException cause) {
        try {
            LoopDevices.detach(loop);
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
