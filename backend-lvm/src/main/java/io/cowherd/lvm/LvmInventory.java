package io.cowherd.lvm;

import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeInfo;
import io.cowherd.VolumeNames;
import io.cowherd.internal.pool.PoolChecks;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an LVM pool holds, read from LVM itself: the truth lives in the volume group's metadata,
 * so any host that sees it sees the same pool. Each of the pool's LVs carries the tags
 * {@code cowherd.pool=classic|thin:THINPOOL}, {@code cowherd.role=master|clone},
 * {@code cowherd.master=NAME} (clones), {@code cowherd.size=BYTES} (the exact guest size; LVs are
 * rounded up to whole extents) and {@code cowherd.seq=MICROS} (creation order). This class turns
 * {@code lvs} rows into volumes, and knows which names are free in the volume group.
 */
final class LvmInventory {
    /** Suffixes and names LVM reserves for its hidden sub-volumes. */
    private static final List<String> RESERVED = List.of("_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig",
            "_mlog", "_mimage", "_pmspare", "_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_imeta",
            "_iorig", "_vpool");
    static final String TAG_POOL = "cowherd.pool";
    static final String TAG_ROLE = "cowherd.role";
    static final String TAG_MASTER = "cowherd.master";
    static final String TAG_SIZE = "cowherd.size";
    static final String TAG_SEQ = "cowherd.seq";
    /** The values of {@link #TAG_ROLE}: {@link Volume.Role} in lower case. */
    static final String ROLE_MASTER = "master";
    static final String ROLE_CLONE = "clone";
    static final String ROLE_STANDALONE = "standalone";
    /** How {@code cowherd.pool} begins for a thin pool's volumes: {@code thin:THINPOOL}. */
    static final String THIN_PREFIX = "thin:";

    private final Path location;
    private final String vg;
    /** The thin pool's LV name, or null for a classic pool. */
    private final String thinPool;
    private final String format;
    /** {@code cowherd.pool=...}: which pool of the volume group an LV belongs to. */
    private final String poolTag;
    private volatile long lastSeq;

    LvmInventory(Path location, String vg, String thinPool, String format) {
        this.location = location;
        this.vg = vg;
        this.thinPool = thinPool;
        this.format = format;
        this.poolTag = TAG_POOL + "=" + (thinPool == null ? "classic" : THIN_PREFIX + thinPool);
    }

    String vg() {
        return vg;
    }

    /** The thin pool's LV name, or null for a classic pool. */
    String thinPool() {
        return thinPool;
    }

    /** The tag that marks an LV as this pool's. */
    String poolTag() {
        return poolTag;
    }

    /** This pool's volumes and every other LV of the volume group, by name. */
    Map<String, Lvm.Lv> allLvs() {
        Map<String, Lvm.Lv> m = new LinkedHashMap<>();
        for (Lvm.Lv l : Lvm.lvs(vg)) {
            m.put(l.name(), l);
        }
        return m;
    }

    /** Whether {@code l} is one of this pool's volumes (an import half done is not). */
    boolean ours(Lvm.Lv l) {
        return l.tags().contains(poolTag) && (isMaster(l) || isClone(l) || ROLE_STANDALONE.equals(l.tag(TAG_ROLE)));
    }

    static boolean isMaster(Lvm.Lv l) {
        return ROLE_MASTER.equals(l.tag(TAG_ROLE));
    }

    static boolean isClone(Lvm.Lv l) {
        return ROLE_CLONE.equals(l.tag(TAG_ROLE));
    }

    /** This pool's volumes in {@code all}: masters first, then in creation order. */
    List<Lvm.Lv> ourLvs(Map<String, Lvm.Lv> all) {
        return all.values().stream().filter(this::ours)
                .sorted(Comparator.comparing((Lvm.Lv l) -> !isMaster(l))
                        .thenComparingLong(LvmInventory::seq).thenComparing(Lvm.Lv::name))
                .toList();
    }

    /** The volume {@code name}. @throws io.cowherd.NoSuchVolumeException unless it is this pool's */
    Lvm.Lv ourLv(Map<String, Lvm.Lv> all, String name) {
        Lvm.Lv l = all.get(name);
        if (l == null || !ours(l)) {
            throw PoolChecks.noVolume(location, name);
        }
        return l;
    }

    /** Every volume of the pool, masters first, in creation order. */
    List<Volume> volumes() {
        return ourLvs(allLvs()).stream().map(this::toVolume).toList();
    }

    Volume toVolume(Lvm.Lv l) {
        Volume.Role role = isMaster(l) ? Volume.Role.MASTER : isClone(l) ? Volume.Role.CLONE : Volume.Role.STANDALONE;
        return new Volume(l.name(), role, role == Volume.Role.CLONE ? l.tag(TAG_MASTER) : null, devicePath(l.name()), format);
    }

    Path devicePath(String name) {
        return Path.of("/dev", vg, name);
    }

    static long seq(Lvm.Lv l) {
        String s = l.tag(TAG_SEQ);
        return s == null ? Long.MAX_VALUE : Long.parseLong(s);
    }

    static long guestSize(Lvm.Lv l) {
        String s = l.tag(TAG_SIZE);
        return s == null ? l.size() : Long.parseLong(s);
    }

    /** A creation stamp later than any this process gave out (wall-clock micros, taken under the lock). */
    synchronized String nextSeq() {
        Instant now = Instant.now();
        long micros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
        lastSeq = Math.max(micros, lastSeq + 1);
        return Long.toString(lastSeq);
    }

    /**
     * The LVs that depend on master {@code master}: every LV whose origin it is, ours or not (LVM
     * lets a thin base be removed), and our clones recorded as its. A thin clone flattened or
     * promoted keeps the master as its LVM origin but no longer depends on it.
     */
    List<Lvm.Lv> usersOf(Map<String, Lvm.Lv> all, String master) {
        return all.values().stream()
                .filter(o -> master.equals(o.origin()) && !(ours(o) && !isClone(o))
                        || ours(o) && isClone(o) && master.equals(o.tag(TAG_MASTER))).toList();
    }

    // ---- names ----

    /**
     * LV names are one namespace per volume group, shared by its classic pool and every thin pool
     * in it: a name another pool (or anything else) holds is refused, naming the holder.
     */
    void checkFree(Map<String, Lvm.Lv> all, String name) {
        Lvm.Lv l = all.get(name);
        if (l == null) {
            return;
        }
        if (ours(l)) {
            throw PoolChecks.nameTaken(location, name);
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

    // ---- inspection ----

    /** Sizes and backing chain of {@code l}, as {@link io.cowherd.Pool#info} gives them. */
    VolumeInfo info(Map<String, Lvm.Lv> all, Lvm.Lv l) {
        long size = guestSize(l);
        long actual = actualBytes(all, l);
        String path = devicePath(l.name()).toString();
        if (!isClone(l)) {
            return new VolumeInfo(path, format, size, actual, 0, null, null, null, null);
        }
        String m = l.tag(TAG_MASTER);
        Lvm.Lv parent = all.get(m);
        VolumeInfo backing = parent == null ? null : info(all, parent);
        String mp = devicePath(m).toString();
        return new VolumeInfo(path, format, size, actual, 0, mp, format, mp, backing);
    }

    /**
     * Host bytes held for this volume alone. Classic master: the LV; classic clone: the used part
     * of its COW area. Thin: lvs reports mapped blocks, shared ones included, so a thin clone
     * counts what it maps beyond its master (an estimate: a rewrite of a shared block is missed).
     */
    private long actualBytes(Map<String, Lvm.Lv> all, Lvm.Lv l) {
        boolean master = !isClone(l); // a standalone volume holds what it maps, as a master does
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

    /** A percentage lvs reported; blank (NaN) for LVs that have none. */
    static double pct(double p) {
        return Double.isNaN(p) ? 0 : p;
    }
}
