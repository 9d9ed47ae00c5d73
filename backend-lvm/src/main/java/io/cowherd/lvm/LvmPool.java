package io.cowherd.lvm;

import io.cowherd.Capability;
import io.cowherd.CowBackend;
import io.cowherd.CowIOException;
import io.cowherd.Fill;
import io.cowherd.FillListener;
import io.cowherd.FillPolicy;
import io.cowherd.MasterInUseException;
import io.cowherd.NoSuchPoolException;
import io.cowherd.OutOfSpaceException;
import io.cowherd.Pool;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.VolumeInfo;
import io.cowherd.internal.io.BlockDeviceDisk;
import io.cowherd.internal.pool.PoolChecks;
import io.cowherd.internal.pool.PoolLock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A volume group ({@code /dev/VG}, classic snapshots) or a thin pool ({@code /dev/VG/THINPOOL},
 * thin snapshots) as a {@link Pool}. The truth lives in LVM's metadata, so any host that sees the
 * volume group sees the same pool: each volume carries the tags {@code cowherd.pool=...},
 * {@code cowherd.role=master|clone}, {@code cowherd.master=NAME} (clones),
 * {@code cowherd.size=BYTES} (the exact guest size; LVs are rounded up to whole extents) and
 * {@code cowherd.seq=MICROS} (creation order). Masters are read-only LVs ({@code lvchange -pr});
 * a master that has clones is never removed, thin bases included (LVM itself would allow it).
 *
 * <p>Changes hold a {@link PoolLock} in {@code /run/lock/cowherd} so that the check (name free,
 * space) and the {@code lvcreate} that follows are atomic across threads and processes on this
 * host. Every LVM command costs about 0.1 s on a real host (0.4 s in User-mode Linux), so
 * {@link #createClones} lists the volume group once and then runs one {@code lvcreate} per clone.
 *
 * <p>This class keeps the {@link Pool} API and deletion; the work is done by {@link LvmInventory}
 * (LVs and tags to volumes), {@link LvmCreate} (import, adopt, clone), {@link LvmSpace} (space
 * checks, fill levels, extending, the watch), {@link LvmActivation}, {@link LvmMerge} (commit) and
 * {@link LvmLibvirt} (the libvirt storage pool that shows it).
 */
public final class LvmPool implements Pool {
    private static final Logger LOG = LoggerFactory.getLogger(LvmPool.class);

    private final LvmBackend backend;
    private final Path location;
    private final String vg;
    /** The thin pool's LV name, or null for a classic pool. */
    private final String thinPool;
    private final LvmSettings settings;
    private final PoolLock lock;
    private final LvmInventory inventory;
    private final LvmSpace space;
    private final LvmLibvirt libvirt;
    private final LvmCreate create;
    private final LvmMerge merges;
    private final ThinDetach detach;
    private final LvmActivation activation;

    LvmPool(LvmBackend backend, Path location, LvmSettings settings) {
        this.backend = backend;
        this.settings = settings;
        Path loc = location.toAbsolutePath().normalize();
        if (loc.getNameCount() < 2 || loc.getNameCount() > 3 || !loc.getName(0).toString().equals("dev")) {
            throw new IllegalArgumentException("an LVM pool is /dev/VG (classic snapshots) or /dev/VG/THINPOOL "
                    + "(thin snapshots), not " + location);
        }
        this.location = loc;
        this.vg = loc.getName(1).toString();
        this.thinPool = loc.getNameCount() == 3 ? loc.getName(2).toString() : null;
        LibvirtPoolLink link = new LibvirtPoolLink(settings.libvirtUri());
        checkExists();
        try {
            Path dir = Files.createDirectories(Path.of("/run/lock/cowherd"));
            this.lock = new PoolLock(dir.resolve("lvm-" + vg + ".lock"));
        } catch (IOException e) {
            throw CowIOException.wrap(Path.of("/run/lock/cowherd"), "creating the pool lock", e);
        }
        this.inventory = new LvmInventory(loc, vg, thinPool, backend.volumeFormat());
        this.space = new LvmSpace(inventory, settings, lock, loc);
        this.libvirt = new LvmLibvirt(link, loc, vg, thinPool);
        this.create = new LvmCreate(inventory, space, libvirt, lock, loc, backend.volumeFormat());
        this.merges = new LvmMerge(inventory, libvirt, lock, loc);
        this.detach = new ThinDetach(inventory, libvirt, lock, loc);
        this.activation = new LvmActivation(inventory, lock, loc);
    }

    /** @throws NoSuchPoolException unless the volume group (and the thin pool, if named) exists */
    private void checkExists() {
        String noVg = "volume group '" + vg + "' does not exist; create it first (pvcreate, vgcreate " + vg
                + " DEVICE...)";
        if (thinPool == null) {
            if (Lvm.vg(vg) == null) {
                throw new NoSuchPoolException(location, noVg);
            }
            return;
        }
        // One lvs answers both questions (each LVM command costs): it fails when the VG is unknown.
        List<Lvm.Lv> lvs;
        try {
            lvs = Lvm.lvs(vg);
        } catch (LvmCommandException e) {
            throw new NoSuchPoolException(location, noVg + " (" + e.getMessage().strip() + ")");
        }
        Lvm.Lv tp = lvs.stream().filter(l -> l.name().equals(thinPool)).findFirst().orElse(null);
        if (tp == null || !tp.isThinPool()) {
            throw new NoSuchPoolException(location, "'" + thinPool + "' is not a thin pool in volume group " + vg
                    + "; create one first (lvcreate -T -L SIZE " + vg + "/" + thinPool + ")");
        }
    }

    @Override
    public Path location() {
        return location;
    }

    @Override
    public CowBackend backend() {
        return backend;
    }

    /** The volume group's name. */
    public String volumeGroup() {
        return vg;
    }

    /** The thin pool's LV name, if this is a thin pool. */
    public Optional<String> thinPool() {
        return Optional.ofNullable(thinPool);
    }

    /** Whether clones are thin snapshots. */
    public boolean isThin() {
        return thinPool != null;
    }

    // ---- reading the truth from LVM ----

    @Override
    public Optional<Volume> find(String name) {
        return volumes().stream().filter(v -> v.name().equals(name)).findFirst();
    }

    @Override
    public List<Volume> volumes() {
        return inventory.volumes();
    }

    @Override
    public List<Volume> clonesOf(String master) {
        return volumes().stream().filter(v -> master.equals(v.master())).toList();
    }

    @Override
    public VolumeInfo info(String name) {
        Map<String, Lvm.Lv> all = inventory.allLvs();
        return inventory.info(all, inventory.ourLv(all, name));
    }

    // ---- making volumes ----

    @Override
    public Volume importMaster(String name, Path source, String sourceFormat) {
        backend.require(Capability.IMPORT);
        LvmInventory.checkName(name);
        return create.importMaster(name, source, sourceFormat);
    }

    @Override
    public Volume adoptMaster(String name, Path image) {
        LvmInventory.checkName(name);
        return create.adopt(name, image);
    }

    @Override
    public Volume createClone(String master, String clone) {
        return createClones(master, List.of(clone)).get(0);
    }

    @Override
    public List<Volume> createClones(String master, List<String> clones) {
        return createClones(master, clones, (Integer) null);
    }

    /** Classic clones whose copy-on-write areas are {@code cowPercent} of their master; thin clones have none. */
    @Override
    public List<Volume> createClones(String master, List<String> clones, int cowPercent) {
        backend.require(Capability.FILL);
        if (thinPool != null) {
            throw new UnsupportedFeatureException("thin snapshots in " + location + " have no copy-on-write area of "
                    + "their own (they share the thin pool's data); leave the size out");
        }
        if (cowPercent < 1 || cowPercent > 100) {
            throw new IllegalArgumentException("a clone's copy-on-write area must be 1-100% of its master, got "
                    + cowPercent);
        }
        return createClones(master, clones, Integer.valueOf(cowPercent));
    }

    private List<Volume> createClones(String master, List<String> clones, Integer cowPercent) {
        backend.require(Capability.CLONE);
        clones.forEach(LvmInventory::checkName);
        PoolChecks.checkNewNames(clones);
        return create.createClones(master, clones, cowPercent != null ? cowPercent : settings.cowPercent());
    }

    // ---- I/O ----

    @Override
    public VirtualDisk open(String name, boolean writable) {
        backend.require(Capability.READ);
        Map<String, Lvm.Lv> all = inventory.allLvs();
        Lvm.Lv l = inventory.ourLv(all, name);
        if (writable && LvmInventory.isMaster(l)) {
            throw new ReadOnlyVolumeException("'" + name + "' is a master in pool " + location
                    + " and stays read-only; write to a clone");
        }
        if (writable) {
            backend.require(Capability.WRITE);
        }
        if (l.isInvalidSnapshot()) {
            throw new OutOfSpaceException("classic clone '" + name + "' overflowed its copy-on-write area and was "
                    + "invalidated by the kernel; its writes are lost: delete it and clone again", null);
        }
        if (!l.isActive()) {
            Lvm.run("lvchange", "-q", "-ay", "-K", vg + "/" + name);
        }
        Path dev = inventory.devicePath(name);
        try {
            return new BlockDeviceDisk(dev, LvmInventory.guestSize(l), writable, e -> translate(name, e));
        } catch (IOException e) {
            throw CowIOException.wrap(dev, "opening", e);
        }
    }

    /** An I/O error on a classic clone that overflowed says so. */
    private IOException translate(String name, IOException e) {
        try {
            Lvm.Lv l = inventory.allLvs().get(name);
            if (l != null && l.isInvalidSnapshot()) {
                return new IOException("clone '" + name + "' overflowed its copy-on-write area and was invalidated", e);
            }
        } catch (RuntimeException ignored) {
            // keep the original error
        }
        return e;
    }

    // ---- deleting ----

    @Override
    public void delete(String name) {
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = inventory.allLvs();
            Lvm.Lv l = inventory.ourLv(all, name);
            if (LvmInventory.isMaster(l)) {
                List<String> users = inventory.usersOf(all, name).stream()
                        .sorted(Comparator.comparingLong(LvmInventory::seq)).map(Lvm.Lv::name).distinct().toList();
                PoolChecks.refuseDeleteWhileCloned(location, name, users);
            }
            Lvm.run("lvremove", "-q", "-y", "-f", vg + "/" + name);
            LOG.debug("deleted '{}' from {}", name, location);
            libvirt.refresh(all);
        }
    }

    /** Deletes several volumes with one {@code lvremove} (clones before their masters). */
    public void deleteAll(List<String> names) {
        if (names.isEmpty()) {
            return;
        }
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = inventory.allLvs();
            for (String n : names) {
                Lvm.Lv l = inventory.ourLv(all, n);
                if (LvmInventory.isMaster(l)) {
                    List<String> users = inventory.usersOf(all, n).stream().map(Lvm.Lv::name)
                            .filter(u -> !names.contains(u)).toList();
                    PoolChecks.refuseDeleteWhileCloned(location, n, users);
                }
            }
            List<String> cmd = new ArrayList<>(List.of("lvremove", "-q", "-y", "-f"));
            names.stream().sorted(Comparator.comparing((String n) -> LvmInventory.isMaster(all.get(n))))
                    .forEach(n -> cmd.add(vg + "/" + n));
            Lvm.run(cmd);
            libvirt.refresh(all);
        }
    }

    // ---- activation ----

    /**
     * Activates this pool's volumes ({@code lvchange -ay -K}, activation-skip flags included): what
     * a host runs after a reboot before starting guests. A classic clone whose snapshot the kernel
     * finds invalid (it overflowed) comes up invalid and is not counted.
     *
     * @return the clones active and usable afterwards, in creation order
     */
    @Override
    public List<String> activate() {
        return activation.activate();
    }

    /**
     * Deactivates this pool's volumes ({@code lvchange -an}, clones before masters); nothing may
     * have them open. Other LVs of the volume group, and a thin pool itself, are left as they are.
     */
    @Override
    public void deactivate() {
        activation.deactivate();
    }

    // ---- merging ----

    /**
     * Commits {@code clone} into its master ({@code lvconvert --merge}): the master takes the
     * clone's content and the clone is gone. Refused while the master has other clones, whose
     * content would change under them.
     *
     * @throws MasterInUseException if the master has other clones
     */
    @Override
    public Volume commit(String clone) {
        return merges.commit(clone);
    }

    /** A thin pool flattens and promotes; a classic pool cannot (its snapshots need their origin). */
    @Override
    public java.util.Set<Capability> capabilities() {
        java.util.Set<Capability> all = java.util.EnumSet.copyOf(backend.capabilities());
        if (inventory.thinPool() == null) {
            all.removeAll(java.util.List.of(Capability.FLATTEN, Capability.PROMOTE));
        }
        return all;
    }

    /**
     * Makes a thin clone a writable standalone volume: tags only, no data copied (see
     * {@link ThinDetach}).
     *
     * @throws io.cowherd.UnsupportedCapabilityException in a classic pool
     */
    @Override
    public Volume flatten(String clone) {
        require(Capability.FLATTEN);
        return detach.flatten(clone);
    }

    /**
     * Makes a thin clone a read-only master of its own: tags and the LV's permission only, no data
     * copied (see {@link ThinDetach}).
     *
     * @throws io.cowherd.UnsupportedCapabilityException in a classic pool
     */
    @Override
    public Volume promote(String clone) {
        require(Capability.PROMOTE);
        return detach.promote(clone);
    }

    // ---- libvirt ----

    /**
     * Uses {@code connection} for the libvirt storage pool from now on, instead of opening
     * {@link LvmSettings#libvirtUri()}. The caller keeps ownership of it.
     */
    public void useLibvirt(org.libvirt.Connect connection) {
        libvirt.use(connection);
    }

    /**
     * Makes this pool's volumes ordinary libvirt volumes: defines (persistent, autostarted) and
     * starts the libvirt storage pool {@code name}, a {@code logical} pool on the volume group for
     * classic pools and a {@code dir} pool on {@code /dev/VG} for thin pools (libvirt's logical
     * pools leave thin volumes out), and records its name in a volume group tag. From then on
     * every change (import, clone, delete, merge), by any cowherd process on any host that sees
     * the volume group, refreshes it. An existing libvirt pool of that name showing the same
     * volume group is reused.
     *
     * @throws io.cowherd.VolumeExistsException if libvirt has a pool of that name for something else
     * @throws io.cowherd.domain.LibvirtFailureException if libvirt fails
     */
    public void defineLibvirtPool(String name) {
        LibvirtPoolLink.checkName(name);
        try (PoolLock.Held held = lock.acquire()) {
            libvirt.define(name);
        }
    }

    /** The libvirt storage pool recorded for this pool, if one was defined. */
    public Optional<String> libvirtPool() {
        return libvirt.pool();
    }

    /** The volume names libvirt lists in this pool's libvirt storage pool. */
    public List<String> libvirtVolumes() {
        return libvirt.volumes();
    }

    // ---- fill levels ----

    /**
     * How full each classic clone's COW area is (an overflowed one is reported lost), or the thin
     * pool's data and metadata.
     */
    @Override
    public List<Fill> usage() {
        return space.usage();
    }

    /**
     * Checks every fill level once: tells {@code listener} of each at or past the warning
     * threshold, and grows each at or past the extension threshold by the policy's percentage
     * ({@code lvextend}) when the volume group has room. Returns the levels it found.
     */
    @Override
    public List<Fill> checkFill(FillPolicy policy, FillListener listener) {
        return space.checkFill(policy, listener);
    }

    /**
     * Runs {@link #checkFill} every {@code period} on a daemon thread until the returned handle
     * is closed. Errors are logged and the watch goes on.
     */
    @Override
    public AutoCloseable watch(Duration period, FillPolicy policy, FillListener listener) {
        return space.watch(period, policy, listener);
    }

    /** Closes the libvirt connection this pool opened for refreshes, if any; LVM holds nothing open. */
    @Override
    public void close() {
        libvirt.close();
    }
}
