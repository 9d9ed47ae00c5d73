package io.cowherd.lvm;

import io.cowherd.Volume;
import io.cowherd.internal.pool.PoolChecks;
import io.cowherd.internal.pool.PoolLock;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Commit for an LVM pool: {@code lvconvert --merge} writes a clone into its master and removes
 * the clone. A classic merge runs at once (origin active and closed) and is waited for; a thin
 * merge is a metadata swap LVM does at the next activation, so both go inactive first.
 */
final class LvmMerge {
    private static final Logger LOG = LoggerFactory.getLogger(LvmMerge.class);

    private final LvmInventory inventory;
    private final LvmLibvirt libvirt;
    private final PoolLock lock;
    private final Path location;

    LvmMerge(LvmInventory inventory, LvmLibvirt libvirt, PoolLock lock, Path location) {
        this.inventory = inventory;
        this.libvirt = libvirt;
        this.lock = lock;
        this.location = location;
    }

    /** See {@link LvmPool#commit}. */
    Volume commit(String clone) {
        String vg = inventory.vg();
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = inventory.allLvs();
            Lvm.Lv c = inventory.ourLv(all, clone);
            PoolChecks.requireClone(location, clone, inventory.toVolume(c).role(), "committed");
            String master = c.tag(LvmInventory.TAG_MASTER);
            List<String> others = inventory.usersOf(all, master).stream().map(Lvm.Lv::name)
                    .filter(n -> !n.equals(clone)).toList();
            PoolChecks.refuseChangeWhileCloned(location, master, others, "commit clone '" + clone + "' into it",
                    "delete the other clones first, or promote this one (a thin pool) or keep it");
            Lvm.run("lvchange", "-q", "-prw", vg + "/" + master);
            if (inventory.thinPool() == null) {
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
            Map<String, Lvm.Lv> now = inventory.allLvs();
            libvirt.refresh(now);
            return inventory.toVolume(now.get(master));
        }
    }
}
