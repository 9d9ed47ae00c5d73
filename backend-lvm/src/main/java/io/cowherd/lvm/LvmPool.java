package io.cowherd.lvm;

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
import io.cowherd.NoSuchPoolException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.OutOfSpaceException;
import io.cowherd.Pool;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.UnsafeBackingException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeInfo;
import io.cowherd.VolumeNames;
import io.cowherd.io.DiskCopier;
import io.cowherd.pool.PoolLock;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
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
 */
public final class LvmPool implements Pool {
    private static final Logger LOG = LoggerFactory.getLogger(LvmPool.class);
    /** Suffixes and names LVM reserves for its hidden sub-volumes. */
    private static final List<String> RESERVED = List.of("_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig",
            "_mlog", "_mimage", "_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_imeta",
            "_iorig", "_vpool");
    static final String TAG_POOL = "cowherd.pool";
    static final String TAG_ROLE = "cowherd.role";
    static final String TAG_MASTER = "cowherd.master";
    static final String TAG_SIZE = "cowherd.size";
    static final String TAG_SEQ = "cowherd.seq";
    /** Volume group tag {@code cowherd.libvirt=KIND/NAME}: the libvirt storage pool that shows this pool. */
    static final String TAG_LIBVIRT = "cowherd.libvirt";
    private static final String IMPORTING = "importing";

    private final LvmBackend backend;
    private final Path location;
    private final String vg;
    /** The thin pool's LV name, or null for a classic pool. */
    private final String thinPool;
    private final String poolTag;
    private final LvmSettings settings;
    private final PoolLock lock;
    private final LibvirtPoolLink libvirt;
    private volatile long lastSeq;

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
        this.poolTag = TAG_POOL + "=" + (thinPool == null ? "classic" : "thin:" + thinPool);
        this.libvirt = new LibvirtPoolLink(settings.libvirtUri());
        String noVg = "volume group '" + vg + "' does not exist; create it first (pvcreate, vgcreate " + vg
                + " DEVICE...)";
        if (thinPool == null) {
            if (Lvm.vg(vg) == null) {
                throw new NoSuchPoolException(loc, noVg);
            }
        } else {
            // One lvs answers both questions (each LVM command costs): it fails when the VG is unknown.
            List<Lvm.Lv> lvs;
            try {
                lvs = Lvm.lvs(vg);
            } catch (LvmCommandException e) {
                throw new NoSuchPoolException(loc, noVg + " (" + e.getMessage().strip() + ")");
            }
            Lvm.Lv tp = lvs.stream().filter(l -> l.name().equals(thinPool)).findFirst().orElse(null);
            if (tp == null || !tp.isThinPool()) {
                throw new NoSuchPoolException(loc, "'" + thinPool + "' is not a thin pool in volume group " + vg
                        + "; create one first (lvcreate -T -L SIZE " + vg + "/" + thinPool + ")");
            }
        }
        try {
            Path dir = Files.createDirectories(Path.of("/run/lock/cowherd"));
            this.lock = new PoolLock(dir.resolve("lvm-" + vg + ".lock"));
        } catch (IOException e) {
            throw CowIOException.wrap(Path.of("/run/lock/cowherd"), "creating the pool lock", e);
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

    /** This pool's volumes and every other LV of the volume group, by name. */
    private Map<String, Lvm.Lv> allLvs() {
        Map<String, Lvm.Lv> m = new LinkedHashMap<>();
        for (Lvm.Lv l : Lvm.lvs(vg)) {
            m.put(l.name(), l);
        }
        return m;
    }

    private boolean ours(Lvm.Lv l) {
        return l.tags().contains(poolTag) && ("master".equals(l.tag(TAG_ROLE)) || "clone".equals(l.tag(TAG_ROLE)));
    }

    private Volume toVolume(Lvm.Lv l) {
        boolean master = "master".equals(l.tag(TAG_ROLE));
        return new Volume(l.name(), master ? Volume.Role.MASTER : Volume.Role.CLONE, master ? null : l.tag(TAG_MASTER),
                devicePath(l.name()), backend.volumeFormat());
    }

    private Path devicePath(String name) {
        return Path.of("/dev", vg, name);
    }

    private static long seq(Lvm.Lv l) {
        String s = l.tag(TAG_SEQ);
        return s == null ? Long.MAX_VALUE : Long.parseLong(s);
    }

    private List<Lvm.Lv> ourLvs(Map<String, Lvm.Lv> all) {
        return all.values().stream().filter(this::ours)
                .sorted(Comparator.comparing((Lvm.Lv l) -> !"master".equals(l.tag(TAG_ROLE)))
                        .thenComparingLong(LvmPool::seq).thenComparing(Lvm.Lv::name))
                .toList();
    }

    @Override
    public Optional<Volume> find(String name) {
        return volumes().stream().filter(v -> v.name().equals(name)).findFirst();
    }

    @Override
    public List<Volume> volumes() {
        return ourLvs(allLvs()).stream().map(this::toVolume).toList();
    }

    @Override
    public List<Volume> clonesOf(String master) {
        return volumes().stream().filter(v -> master.equals(v.master())).toList();
    }

    private Lvm.Lv ourLv(Map<String, Lvm.Lv> all, String name) {
        Lvm.Lv l = all.get(name);
        if (l == null || !ours(l)) {
            throw new NoSuchVolumeException("no volume named '" + name + "' in pool " + location);
        }
        return l;
    }

    private static long guestSize(Lvm.Lv l) {
        String s = l.tag(TAG_SIZE);
        return s == null ? l.size() : Long.parseLong(s);
    }

    /** A creation stamp later than any this process gave out (wall-clock micros, taken under the lock). */
    private synchronized String nextSeq() {
        Instant now = Instant.now();
        long micros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
        lastSeq = Math.max(micros, lastSeq + 1);
        return Long.toString(lastSeq);
    }

    // ---- masters ----

    @Override
    public Volume importMaster(String name, Path source, String sourceFormat) {
        backend.require(Capability.IMPORT);
        checkName(name);
        ImagePolicy policy = ImagePolicy.operator();
        ImageFormat in = ImageFormats.byName(sourceFormat);
        policy.checkFormat(source, in.name());
        // The source is opened (and so checked) before any LV exists: a bad image leaves nothing.
        try (VirtualDisk disk = in.open(source, policy, false, 0);
                PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = allLvs();
            checkFree(all, name);
            long size = disk.size();
            long lvBytes = roundUp(size, 512);
            long extent = checkImportSpace(all, lvBytes, source);
            List<String> cmd = new ArrayList<>(List.of("lvcreate", "-q", "-y", "-Wn", "-n", name));
            if (thinPool == null) {
                cmd.addAll(List.of("-L", lvBytes + "b", "-Zn"));
            } else {
                cmd.addAll(List.of("-V", lvBytes + "b", "-T", vg + "/" + thinPool));
            }
            addTags(cmd, poolTag, TAG_ROLE + "=" + IMPORTING, TAG_SIZE + "=" + size, TAG_SEQ + "=" + nextSeq());
            if (thinPool == null) {
                cmd.add(vg);
            }
            Lvm.run(cmd);
            boolean done = false;
            try {
                Path dev = devicePath(name);
                // LVM sizes every LV in whole extents (no lvs run to ask; a wrong size would fail the copy).
                long devSize = roundUp(lvBytes, extent);
                try (BlockDeviceDisk out = new BlockDeviceDisk(dev, devSize, true, e -> e)) {
                    if (thinPool == null) {
                        copyEverything(disk, out, devSize); // a new linear LV holds whatever the PV held
                    } else if (all.get(thinPool).zeroesNewBlocks()) {
                        // Unprovisioned blocks read as zeros and partly written ones are zeroed
                        // first, so zeros are left out and the LV stays thin.
                        DiskCopier.copyContent(disk, out);
                    } else {
                        LOG.info("thin pool {}/{} does not zero new blocks: importing {} writes every byte, zeros "
                                + "included, so no old data shows through (lvchange -Zy {}/{} keeps imports thin)", vg,
                                thinPool, name, vg, thinPool);
                        copyEverything(disk, out, devSize);
                    }
                    out.flush();
                } catch (IOException e) {
                    throw CowIOException.wrap(source, "copying into " + dev, e);
                }
                Lvm.run("lvchange", "-q", "-pr", "--deltag", TAG_ROLE + "=" + IMPORTING, "--addtag",
                        TAG_ROLE + "=master", vg + "/" + name);
                done = true;
                LOG.info("imported {} ({}) as master '{}' in {}", source, in.name(), name, location);
                refreshLibvirt(all);
                return new Volume(name, Volume.Role.MASTER, null, dev, backend.volumeFormat());
            } finally {
                if (!done) {
                    removeQuietly(List.of(name));
                }
            }
        } catch (IOException e) {
            throw CowIOException.wrap(source, "reading", e);
        }
    }

    private static void copyEverything(VirtualDisk in, VirtualDisk out, long devSize) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        long size = in.size();
        for (long pos = 0; pos < devSize; pos += buf.limit()) {
            buf.clear().limit((int) Math.min(buf.capacity(), devSize - pos));
            if (pos < size) {
                int want = (int) Math.min(buf.limit(), size - pos);
                buf.limit(want);
                in.readFully(buf, pos);
                buf.flip();
            } else {
                while (buf.hasRemaining()) {
                    buf.put((byte) 0); // the rounded-up tail reads as zeros, not old data
                }
                buf.flip();
            }
            out.write(buf, pos);
        }
    }

    /** Throws unless {@code bytes} fit; returns the volume group's extent size. */
    private long checkImportSpace(Map<String, Lvm.Lv> all, long bytes, Path source) {
        if (thinPool == null) {
            // lvs reports the VG's free space on every row; only an empty VG needs a vgs run.
            Lvm.Lv any = all.values().stream().findFirst().orElse(null);
            Lvm.Vg g = any == null ? Lvm.vg(vg) : new Lvm.Vg(vg, any.vgExtentSize(), any.vgFree(), 0);
            if (g == null) {
                throw new NoSuchVolumeException("volume group '" + vg + "' is gone");
            }
            long need = roundUp(bytes, g.extentSize());
            if (need > g.free()) {
                throw new OutOfSpaceException("volume group " + vg + " has " + g.free() + " bytes free, importing "
                        + source + " needs " + need + "; extend it (vgextend) or free space", null);
            }
            return g.extentSize();
        } else {
            Lvm.Lv tp = all.get(thinPool);
            long free = (long) (tp.size() * (100 - pct(tp.dataPercent())) / 100);
            if (bytes > free) {
                throw new OutOfSpaceException("thin pool " + vg + "/" + thinPool + " has about " + free
                        + " bytes of data free, importing " + source + " may need " + bytes
                        + "; extend it (lvextend " + vg + "/" + thinPool + ")", null);
            }
            return tp.vgExtentSize();
        }
    }

    @Override
    public Volume adoptMaster(String name, Path image) {
        checkName(name);
        Path dev = image.toAbsolutePath().normalize();
        if (dev.getNameCount() != 3 || !dev.getParent().equals(Path.of("/dev", vg))) {
            throw new UnsafeBackingException(image + " is not a logical volume of " + vg + "; import it instead");
        }
        String lvName = dev.getFileName().toString();
        if (!lvName.equals(name)) {
            throw new IllegalArgumentException("an adopted LV keeps its name: adopt " + image + " as '" + lvName + "'");
        }
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = allLvs();
            Lvm.Lv l = all.get(name);
            if (l == null) {
                throw new NoSuchVolumeException(image + " is not a logical volume of " + vg);
            }
            if (l.tag(TAG_ROLE) != null) {
                throw new VolumeExistsException("pool " + location + " already records '" + name + "'");
            }
            if (thinPool == null ? !l.poolLv().isEmpty() || !l.origin().isEmpty() : !thinPool.equals(l.poolLv())) {
                throw new UnsupportedFeatureException("'" + name + "' is not a standalone "
                        + (thinPool == null ? "linear LV" : "thin LV of " + thinPool) + "; import it instead");
            }
            List<String> cmd = new ArrayList<>(List.of("lvchange", "-q", "-pr"));
            addTags(cmd, poolTag, TAG_ROLE + "=master", TAG_SIZE + "=" + l.size(), TAG_SEQ + "=" + nextSeq());
            cmd.add(vg + "/" + name);
            Lvm.run(cmd);
            refreshLibvirt(all);
            return new Volume(name, Volume.Role.MASTER, null, dev, backend.volumeFormat());
        }
    }

    // ---- clones ----

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
        clones.forEach(LvmPool::checkName);
        if (clones.stream().distinct().count() != clones.size()) {
            throw new IllegalArgumentException("clone names repeat: " + clones);
        }
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = allLvs();
            Lvm.Lv parent = all.get(master);
            if (parent == null || !ours(parent)) {
                throw new NoSuchVolumeException("no master named '" + master + "' in pool " + location);
            }
            if (!"master".equals(parent.tag(TAG_ROLE))) {
                throw new UnsupportedFeatureException("'" + master + "' is a clone, not a master; clone a master "
                        + "or merge this clone into its master first");
            }
            for (String c : clones) {
                checkFree(all, c);
            }
            long cowBytes = thinPool == null
                    ? checkClassicSpace(parent, clones.size(), cowPercent != null ? cowPercent : settings.cowPercent())
                    : checkThinSpace(all);
            List<String> made = new ArrayList<>(clones.size());
            List<Volume> result = new ArrayList<>(clones.size());
            boolean done = false;
            try {
                for (String c : clones) {
                    List<String> cmd = new ArrayList<>(List.of("lvcreate", "-q", "-y", "-s", "-n", c));
                    if (thinPool == null) {
                        cmd.addAll(List.of("-L", cowBytes + "b"));
                    }
                    // -kn: no activation-skip flag, so a plain "vgchange -ay" after a reboot brings it back.
                    cmd.addAll(List.of("-kn", "-ay", "-prw"));
                    addTags(cmd, poolTag, TAG_ROLE + "=clone", TAG_MASTER + "=" + master,
                            TAG_SIZE + "=" + guestSize(parent), TAG_SEQ + "=" + nextSeq());
                    cmd.add(vg + "/" + master);
                    Lvm.run(cmd);
                    made.add(c);
                    result.add(new Volume(c, Volume.Role.CLONE, master, devicePath(c), backend.volumeFormat()));
                }
                done = true;
                LOG.info("{} {} clone(s) of '{}' in {}", thinPool == null ? "classic" : "thin", clones.size(), master,
                        location);
                refreshLibvirt(all);
                return result;
            } finally {
                if (!done) {
                    removeQuietly(made);
                }
            }
        }
    }

    /** The COW size of one clone of {@code parent}; throws unless {@code count} of them fit. */
    private long checkClassicSpace(Lvm.Lv parent, int count, int cowPercent) {
        // lvs reports the VG's free space on every row: no extra vgs run (each LVM command costs).
        Lvm.Vg g = new Lvm.Vg(vg, parent.vgExtentSize(), parent.vgFree(), 0);
        long cow = roundUp(Math.max(1, parent.size() * cowPercent / 100), g.extentSize());
        // LVM adds a little for the exception store's metadata; one extent per clone is a safe bound.
        long need = (long) count * cow;
        if (need > g.free()) {
            throw new OutOfSpaceException("volume group " + vg + " has " + g.free() + " bytes free; " + count
                    + " classic clone(s) of '" + parent.name() + "' need " + need + " (" + cow + " of copy-on-write "
                    + "space each); extend the volume group (vgextend), delete clones or give clones a smaller copy-on-write area", null);
        }
        return cow;
    }

    private long checkThinSpace(Map<String, Lvm.Lv> all) {
        Lvm.Lv tp = all.get(thinPool);
        double data = pct(tp.dataPercent());
        double meta = pct(tp.metadataPercent());
        if (data >= settings.thinDataLimitPercent() || meta >= settings.thinMetadataLimitPercent()) {
            throw new OutOfSpaceException("thin pool " + vg + "/" + thinPool + " is " + data + "% full (data) and "
                    + meta + "% (metadata), at or past the limits " + settings.thinDataLimitPercent() + "% / "
                    + settings.thinMetadataLimitPercent() + "%: new clones would stall when it fills; extend it "
                    + "(lvextend -L +SIZE " + vg + "/" + thinPool + ", --poolmetadatasize) or delete clones", null);
        }
        return 0;
    }

    private static double pct(double p) {
        return Double.isNaN(p) ? 0 : p;
    }

    // ---- inspection and I/O ----

    @Override
    public VolumeInfo info(String name) {
        Map<String, Lvm.Lv> all = allLvs();
        return info(all, ourLv(all, name));
    }

    private VolumeInfo info(Map<String, Lvm.Lv> all, Lvm.Lv l) {
        long size = guestSize(l);
        long actual = actualBytes(all, l);
        String path = devicePath(l.name()).toString();
        if ("master".equals(l.tag(TAG_ROLE))) {
            return new VolumeInfo(path, backend.volumeFormat(), size, actual, 0, null, null, null, null);
        }
        String m = l.tag(TAG_MASTER);
        Lvm.Lv parent = all.get(m);
        VolumeInfo backing = parent == null ? null : info(all, parent);
        String mp = devicePath(m).toString();
        return new VolumeInfo(path, backend.volumeFormat(), size, actual, 0, mp, backend.volumeFormat(), mp, backing);
    }

    /**
     * Host bytes held for this volume alone. Classic master: the LV; classic clone: the used part
     * of its COW area. Thin: lvs reports mapped blocks, shared ones included, so a thin clone
     * counts what it maps beyond its master (an estimate: a rewrite of a shared block is missed).
     */
    private long actualBytes(Map<String, Lvm.Lv> all, Lvm.Lv l) {
        boolean master = "master".equals(l.tag(TAG_ROLE));
        if (thinPool == null && master) {
            return l.size();
        }
        long mapped = (long) (l.size() * pct(l.dataPercent()) / 100);
        if (thinPool != null && !master) {
            Lvm.Lv parent = all.get(l.tag(TAG_MASTER));
            long base = parent == null ? 0 : (long) (parent.size() * pct(parent.dataPercent()) / 100);
            return Math.max(0, mapped - base);
        }
        return mapped;
    }

    @Override
    public VirtualDisk open(String name, boolean writable) {
        backend.require(Capability.READ);
        Map<String, Lvm.Lv> all = allLvs();
        Lvm.Lv l = ourLv(all, name);
        boolean master = "master".equals(l.tag(TAG_ROLE));
        if (writable && master) {
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
        Path dev = devicePath(name);
        try {
            return new BlockDeviceDisk(dev, guestSize(l), writable, e -> translate(name, e));
        } catch (IOException e) {
            throw CowIOException.wrap(dev, "opening", e);
        }
    }

    private IOException translate(String name, IOException e) {
        try {
            Lvm.Lv l = allLvs().get(name);
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
            Map<String, Lvm.Lv> all = allLvs();
            Lvm.Lv l = ourLv(all, name);
            if ("master".equals(l.tag(TAG_ROLE))) {
                // Every LV whose origin is the master counts, ours or not: LVM lets a thin base be removed.
                List<String> users = all.values().stream()
                        .filter(o -> name.equals(o.origin()) || (ours(o) && name.equals(o.tag(TAG_MASTER))))
                        .sorted(Comparator.comparingLong(LvmPool::seq)).map(Lvm.Lv::name).distinct().toList();
                if (!users.isEmpty()) {
                    throw new MasterInUseException(location.toString(), name, users);
                }
            }
            Lvm.run("lvremove", "-q", "-y", "-f", vg + "/" + name);
            LOG.debug("deleted '{}' from {}", name, location);
            refreshLibvirt(all);
        }
    }

    /** Deletes several volumes with one {@code lvremove} (clones before their masters). */
    public void deleteAll(List<String> names) {
        if (names.isEmpty()) {
            return;
        }
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = allLvs();
            for (String n : names) {
                Lvm.Lv l = ourLv(all, n);
                if ("master".equals(l.tag(TAG_ROLE))) {
                    List<String> users = all.values().stream().filter(o -> n.equals(o.origin())
                            || (ours(o) && n.equals(o.tag(TAG_MASTER)))).map(Lvm.Lv::name)
                            .filter(u -> !names.contains(u)).toList();
                    if (!users.isEmpty()) {
                        throw new MasterInUseException(location.toString(), n, users);
                    }
                }
            }
            List<String> cmd = new ArrayList<>(List.of("lvremove", "-q", "-y", "-f"));
            names.stream().sorted(Comparator.comparing((String n) -> "master".equals(all.get(n).tag(TAG_ROLE))))
                    .forEach(n -> cmd.add(vg + "/" + n));
            Lvm.run(cmd);
            refreshLibvirt(all);
        }
    }

    private void removeQuietly(List<String> names) {
        if (names.isEmpty()) {
            return;
        }
        List<String> cmd = new ArrayList<>(List.of("lvremove", "-q", "-y", "-f"));
        names.forEach(n -> cmd.add(vg + "/" + n));
        try {
            Lvm.run(cmd);
        } catch (CowException e) {
            LOG.warn("could not remove {} after a failure: {}", names, e.getMessage());
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
        try (PoolLock.Held held = lock.acquire()) {
            // A classic snapshot comes up with its origin (LVM activates them together), a thin one alone.
            List<String> inactive = ourLvs(allLvs()).stream().filter(l -> !l.isActive() && !l.isInvalidSnapshot())
                    .filter(l -> thinPool != null || "master".equals(l.tag(TAG_ROLE)))
                    .map(l -> vg + "/" + l.name()).toList();
            if (!inactive.isEmpty()) {
                List<String> cmd = new ArrayList<>(List.of("lvchange", "-q", "-ay", "-K"));
                cmd.addAll(inactive);
                Lvm.run(cmd);
            }
            List<String> active = ourLvs(allLvs()).stream().filter(l -> "clone".equals(l.tag(TAG_ROLE)))
                    .filter(l -> l.isActive() && !l.isInvalidSnapshot()).map(Lvm.Lv::name).toList();
            LOG.info("{} clone(s) of {} active", active.size(), location);
            return active;
        }
    }

    /**
     * Deactivates this pool's volumes ({@code lvchange -an}, clones before masters); nothing may
     * have them open. Other LVs of the volume group, and a thin pool itself, are left as they are.
     */
    @Override
    public void deactivate() {
        try (PoolLock.Held held = lock.acquire()) {
            List<Lvm.Lv> mine = ourLvs(allLvs());
            List<String> names = new ArrayList<>();
            // A classic snapshot goes down with its origin; thin clones one by one, before their masters.
            mine.stream().filter(l -> thinPool != null && l.isActive() && !"master".equals(l.tag(TAG_ROLE)))
                    .forEach(l -> names.add(vg + "/" + l.name()));
            mine.stream().filter(l -> "master".equals(l.tag(TAG_ROLE)) && (l.isActive() || thinPool == null))
                    .forEach(l -> names.add(vg + "/" + l.name()));
            if (!names.isEmpty()) {
                List<String> cmd = new ArrayList<>(List.of("lvchange", "-q", "-y", "-an"));
                cmd.addAll(names);
                Lvm.run(cmd);
            }
        }
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
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = allLvs();
            Lvm.Lv c = ourLv(all, clone);
            if (!"clone".equals(c.tag(TAG_ROLE))) {
                throw new UnsupportedFeatureException("'" + clone + "' is a master; only a clone can be committed");
            }
            String master = c.tag(TAG_MASTER);
            List<String> others = all.values().stream().filter(o -> !o.name().equals(clone)
                    && (master.equals(o.origin()) || (ours(o) && master.equals(o.tag(TAG_MASTER)))))
                    .map(Lvm.Lv::name).toList();
            if (!others.isEmpty()) {
                throw new MasterInUseException(location.toString(), master, others, "commit clone '" + clone
                        + "' into it", "delete the other clones first, or promote this one (a thin pool) or keep it");
            }
            Lvm.run("lvchange", "-q", "-prw", vg + "/" + master);
            if (thinPool == null) {
                // Classic: with the origin active and closed the merge starts now; -i 1 waits for it here.
                Lvm.run("lvconvert", "-q", "-y", "-i", "1", "--merge", vg + "/" + clone);
            } else {
                // Thin: a metadata swap done at the next activation, so both go inactive first.
                Lvm.run("lvchange", "-q", "-y", "-an", vg + "/" + clone);
                Lvm.run("lvchange", "-q", "-y", "-an", vg + "/" + master);
                Lvm.run("lvconvert", "-q", "-y", "--merge", vg + "/" + clone);
                Lvm.run("lvchange", "-q", "-ay", "-K", vg + "/" + master);
            }
            Lvm.run("lvchange", "-q", "-pr", vg + "/" + master);
            LOG.info("committed clone '{}' into master '{}' in {}", clone, master, location);
            Map<String, Lvm.Lv> now = allLvs();
            refreshLibvirt(now);
            return toVolume(now.get(master));
        }
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
            libvirt.define(name, vg, thinPool != null);
            String tag = libvirtTagPrefix() + name;
            List<String> cmd = new ArrayList<>(List.of("vgchange", "-q"));
            for (String old : Lvm.vgTags(vg)) {
                if (old.startsWith(libvirtTagPrefix()) && !old.equals(tag)) {
                    cmd.addAll(List.of("--deltag", old));
                }
            }
            cmd.addAll(List.of("--addtag", tag, vg));
            Lvm.run(cmd);
        }
    }

    /** The libvirt storage pool recorded for this pool, if one was defined. */
    public Optional<String> libvirtPool() {
        return libvirtPool(Lvm.vgTags(vg));
    }

    /** The volume names libvirt lists in this pool's libvirt storage pool. */
    public List<String> libvirtVolumes() {
        String name = libvirtPool().orElseThrow(() -> new NoSuchVolumeException("no libvirt storage pool is defined "
                + "for " + location + " (defineLibvirtPool)"));
        return libvirt.volumes(name);
    }

    private String libvirtTagPrefix() {
        return TAG_LIBVIRT + "=" + (thinPool == null ? "classic" : "thin:" + thinPool) + "/";
    }

    private Optional<String> libvirtPool(List<String> vgTags) {
        String prefix = libvirtTagPrefix();
        return vgTags.stream().filter(t -> t.startsWith(prefix)).map(t -> t.substring(prefix.length())).findFirst();
    }

    /** After a change: refreshes the recorded libvirt pool, if any ({@code all} carries the VG's tags). */
    private void refreshLibvirt(Map<String, Lvm.Lv> all) {
        List<String> tags = all.isEmpty() ? Lvm.vgTags(vg) : all.values().iterator().next().vgTags();
        libvirtPool(tags).ifPresent(libvirt::refreshQuietly);
    }

    // ---- fill levels ----

    /**
     * How full each classic clone's COW area is (an overflowed one is reported lost), or the thin
     * pool's data and metadata.
     */
    @Override
    public List<Fill> usage() {
        Map<String, Lvm.Lv> all = allLvs();
        List<Fill> fills = new ArrayList<>();
        if (thinPool == null) {
            for (Lvm.Lv l : ourLvs(all)) {
                if ("clone".equals(l.tag(TAG_ROLE))) {
                    boolean lost = l.isInvalidSnapshot();
                    double p = lost ? 100 : pct(l.dataPercent());
                    fills.add(new Fill(Fill.Kind.SNAPSHOT_COW, l.name(), p, l.size(), lost));
                }
            }
        } else {
            Lvm.Lv tp = all.get(thinPool);
            fills.add(new Fill(Fill.Kind.THIN_DATA, thinPool, pct(tp.dataPercent()), tp.size()));
            Lvm.Lv meta = all.get("[" + thinPool + "_tmeta]");
            fills.add(new Fill(Fill.Kind.THIN_METADATA, thinPool, pct(tp.metadataPercent()),
                    meta == null ? 0 : meta.size()));
        }
        return fills;
    }

    /**
     * Checks every fill level once: tells {@code listener} of each at or past the warning
     * threshold, and grows each at or past the extension threshold by the policy's percentage
     * ({@code lvextend}) when the volume group has room. Returns the levels it found.
     */
    @Override
    public List<Fill> checkFill(FillPolicy policy, FillListener listener) {
        List<Fill> fills = usage();
        for (Fill f : fills) {
            if (f.lost()) {
                LOG.error("classic clone '{}' of {} overflowed its copy-on-write area and was invalidated: its writes "
                        + "are lost", f.volume(), location);
                listener.lost(f);
                continue;
            }
            if (f.percent() >= policy.warnPercent()) {
                LOG.warn("{} {} of {} is {}% full (warning at {}%)", f.kind(), f.volume(), location, f.percent(),
                        policy.warnPercent());
                listener.warning(f, policy.warnPercent());
            }
            if (f.percent() >= policy.extendPercent() && f.percent() < 100) {
                extend(f, policy, listener);
            }
        }
        return fills;
    }

    private void extend(Fill f, FillPolicy policy, FillListener listener) {
        try (PoolLock.Held held = lock.acquire()) {
            Lvm.Vg g = Lvm.vg(vg);
            long by = roundUp(Math.max(1, f.size() * policy.extendByPercent() / 100), g.extentSize());
            if (by > g.free()) {
                String why = "volume group " + vg + " has " + g.free() + " bytes free, growing " + f.volume() + " needs " + by;
                LOG.warn("cannot extend: {}", why);
                listener.cannotExtend(f, why);
                return;
            }
            String opt = f.kind() == Fill.Kind.THIN_METADATA ? "--poolmetadatasize" : "-L";
            Lvm.run("lvextend", "-q", opt, "+" + by + "b", vg + "/" + f.volume());
            long now = f.kind() == Fill.Kind.THIN_METADATA ? f.size() + by : allLvs().get(f.volume()).size();
            LOG.info("extended {} {} of {} to {} bytes", f.kind(), f.volume(), location, now);
            listener.extended(f, now);
        }
    }

    /**
     * Runs {@link #checkFill} every {@code period} on a daemon thread until the returned handle
     * is closed. Errors are logged and the watch goes on.
     */
    @Override
    public AutoCloseable watch(Duration period, FillPolicy policy, FillListener listener) {
        ScheduledExecutorService ex = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cowherd-lvm-watch-" + vg);
            t.setDaemon(true);
            return t;
        });
        ex.scheduleWithFixedDelay(() -> {
            try {
                checkFill(policy, listener);
            } catch (RuntimeException e) {
                LOG.warn("fill check of {} failed: {}", location, e.getMessage());
            }
        }, 0, period.toMillis(), TimeUnit.MILLISECONDS);
        return () -> {
            ex.shutdownNow();
            ex.awaitTermination(30, TimeUnit.SECONDS);
        };
    }

    // ---- helpers ----

    /**
     * LV names are one namespace per volume group, shared by its classic pool and every thin pool
     * in it: a name another pool (or anything else) holds is refused, naming the holder.
     */
    private void checkFree(Map<String, Lvm.Lv> all, String name) {
        Lvm.Lv l = all.get(name);
        if (l == null) {
            return;
        }
        if (ours(l)) {
            throw new VolumeExistsException("pool " + location + " already has a volume named '" + name + "'");
        }
        String holder = l.tags().stream().filter(t -> t.startsWith(TAG_POOL + "=")).findFirst()
                .map(t -> t.substring(TAG_POOL.length() + 1)).map(t -> t.equals("classic") ? "the classic pool /dev/"
                        + vg : "the thin pool /dev/" + vg + "/" + t.substring("thin:".length()))
                .orElse("a logical volume that is not cowherd's");
        throw new VolumeExistsException("'" + name + "' is taken in volume group " + vg + " by " + holder
                + ": logical volume names are shared by every pool of a volume group; choose another name (for "
                + "example '" + name + (thinPool == null ? "-classic" : "-" + thinPool) + "'), or use another volume group");
    }

    /**
     * Rejects names outside the one volume-name rule ({@link VolumeNames}) and names LVM would
     * refuse or treat specially, before any command runs.
     */
    static void checkName(String name) {
        VolumeNames.check(name);
        if (name.equals("snapshot") || name.equals("pvmove") || RESERVED.stream().anyMatch(name::contains)) {
            throw new IllegalArgumentException("'" + name + "' is not a usable LV name: LVM reserves 'snapshot', "
                    + "'pvmove' and names containing " + String.join(" ", RESERVED));
        }
    }

    private static void addTags(List<String> cmd, String... tags) {
        for (String t : tags) {
            cmd.add("--addtag");
            cmd.add(t);
        }
    }

    private static long roundUp(long v, long unit) {
        return (v + unit - 1) / unit * unit;
    }

    /** Closes the libvirt connection this pool opened for refreshes, if any; LVM holds nothing open. */
    @Override
    public void close() {
        libvirt.close();
    }
}
