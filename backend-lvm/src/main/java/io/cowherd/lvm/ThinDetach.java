package io.cowherd.lvm;

import io.cowherd.Volume;
import io.cowherd.internal.pool.PoolChecks;
import io.cowherd.internal.pool.PoolLock;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Flatten and promote for a thin pool: a thin snapshot shares blocks with its origin but depends
 * on nothing (LVM removes an origin and keeps its snapshots), so a clone leaves its master by a
 * change of tags alone, with no data copied. A classic snapshot keeps its changes in a COW area
 * that needs its origin, so classic pools offer neither.
 */
final class ThinDetach {
    private static final Logger LOG = LoggerFactory.getLogger(ThinDetach.class);

    private final LvmInventory inventory;
    private final LvmLibvirt libvirt;
    private final PoolLock lock;
    private final Path location;

    ThinDetach(LvmInventory inventory, LvmLibvirt libvirt, PoolLock lock, Path location) {
        this.inventory = inventory;
        this.libvirt = libvirt;
        this.lock = lock;
        this.location = location;
    }

    /** See {@link LvmPool#flatten}: the clone becomes a writable standalone volume. */
    Volume flatten(String clone) {
        return retag(clone, LvmInventory.ROLE_STANDALONE, false, "flattened");
    }

    /** See {@link LvmPool#promote}: the clone becomes a read-only master of its own. */
    Volume promote(String clone) {
        return retag(clone, LvmInventory.ROLE_MASTER, true, "promoted");
    }

    /** Gives {@code clone} the role {@code role} ("master" read-only), in one LVM command. */
    private Volume retag(String clone, String role, boolean readOnly, String done) {
        String vg = inventory.vg();
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = inventory.allLvs();
            Lvm.Lv c = inventory.ourLv(all, clone);
            PoolChecks.requireClone(location, clone, inventory.toVolume(c).role(), done);
            String master = c.tag(LvmInventory.TAG_MASTER);
            // One lvchange: the role and the master's name change together or not at all. A clone is
            // writable already, and LVM refuses a permission change to what already is (exit 5).
            List<String> cmd = new ArrayList<>(List.of("lvchange", "-q"));
            if (readOnly) {
                cmd.add("-pr");
            }
            cmd.addAll(List.of("--deltag", LvmInventory.TAG_ROLE + "=" + LvmInventory.ROLE_CLONE, "--deltag",
                    LvmInventory.TAG_MASTER + "=" + master, "--addtag", LvmInventory.TAG_ROLE + "=" + role, vg + "/" + clone));
            Lvm.run(cmd);
            LOG.info("{} clone '{}' of master '{}' in {}", done, clone, master, location);
            Map<String, Lvm.Lv> now = inventory.allLvs();
            libvirt.refresh(now);
            return inventory.toVolume(now.get(clone));
        }
    }
}
