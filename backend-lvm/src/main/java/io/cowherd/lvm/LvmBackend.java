package io.cowherd.lvm;

import io.cowherd.Capability;
import io.cowherd.CowBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code lvm} backend: masters and clones are logical volumes, clones are LVM snapshots.
 * One backend serves both kinds of pool; the location says which:
 * <ul>
 * <li>{@code /dev/VG}: a <em>classic</em> pool, every clone a classic snapshot with its own
 * fixed-size copy-on-write area ({@code lvcreate -s -L}) taken from the volume group;</li>
 * <li>{@code /dev/VG/THINPOOL}: a <em>thin</em> pool, masters are thin volumes in
 * {@code THINPOOL} and every clone a thin snapshot ({@code lvcreate -s}, no size).</li>
 * </ul>
 * The volume group and thin pool must exist ({@code vgcreate}, {@code lvcreate -T}). Needs root
 * and the {@code lvm2} tools.
 */
public final class LvmBackend implements CowBackend {
    /** The backend's name. */
    public static final String NAME = "lvm";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<Capability> capabilities() {
        // FLATTEN and PROMOTE: thin pools only (a thin snapshot is an independent LV; a classic one
        // needs its origin), so a classic pool narrows them away (LvmPool.capabilities).
        return EnumSet.of(Capability.CLONE, Capability.IMPORT, Capability.READ, Capability.WRITE, Capability.ACTIVATE,
                Capability.FILL, Capability.COMMIT, Capability.FLATTEN, Capability.PROMOTE);
    }

    /**
     * Whether {@code location} is shaped like an LVM pool: {@code /dev/VG} or
     * {@code /dev/VG/THINPOOL} (not {@code /dev/mapper}, not a directory pool, not a device
     * node). Runs no LVM command; opening the pool checks that the volume group exists.
     */
    @Override
    public boolean recognizes(Path location) {
        Path p = location.toAbsolutePath().normalize();
        int n = p.getNameCount();
        if (n < 2 || n > 3 || !p.getName(0).toString().equals("dev")) {
            return false;
        }
        String vg = p.getName(1).toString();
        if (vg.equals("mapper") || vg.equals("disk") || vg.equals("shm") || vg.equals("pts") || vg.startsWith(".")) {
            return false;
        }
        Path vgDir = p.getRoot().resolve("dev").resolve(vg);
        if (Files.exists(vgDir) && !Files.isDirectory(vgDir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return false; // /dev/sda, /dev/null: a device node, not a volume group
        }
        return !Files.isDirectory(p.resolve(".cowherd"));
    }

    /**
     * The pool of the volume at {@code /dev/VG/NAME}: the thin pool its {@code cowherd.pool} tag
     * names ({@code /dev/VG/THINPOOL}), else the classic pool {@code /dev/VG}. Runs one
     * {@code lvs}; a volume group LVM does not know gives {@code /dev/VG} (opening it says so).
     */
    @Override
    public Path poolLocationOf(Path path) {
        Path p = path.toAbsolutePath().normalize();
        Path vgDir = p.getParent();
        if (p.getNameCount() != 3 || !p.getName(0).toString().equals("dev")) {
            return vgDir;
        }
        String lv = p.getFileName().toString();
        List<Lvm.Lv> lvs;
        try {
            lvs = Lvm.lvs(p.getName(1).toString());
        } catch (LvmCommandException e) {
            return vgDir;
        }
        return lvs.stream().filter(l -> l.name().equals(lv)).findFirst().map(l -> l.tag(LvmInventory.TAG_POOL))
                .filter(t -> t.startsWith(LvmInventory.THIN_PREFIX))
                .map(t -> vgDir.resolve(t.substring(LvmInventory.THIN_PREFIX.length()))).orElse(vgDir);
    }

    /** Guests see a plain block device: libvirt's {@code <driver type='raw'>}. */
    @Override
    public String volumeFormat() {
        return "raw";
    }

    @Override
    public boolean volumesAreFiles() {
        return false;
    }

    /**
     * Opens the pool at {@code /dev/VG} (classic) or {@code /dev/VG/THINPOOL} (thin) with
     * default settings.
     */
    @Override
    public LvmPool openPool(Path location) {
        return new LvmPool(this, location, LvmSettings.defaults());
    }

    /** Opens the pool at {@code location} with {@code settings}. */
    public LvmPool openPool(Path location, LvmSettings settings) {
        return new LvmPool(this, location, settings);
    }
}
