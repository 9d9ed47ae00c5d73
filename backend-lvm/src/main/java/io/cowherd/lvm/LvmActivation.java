package io.cowherd.lvm;

import io.cowherd.internal.pool.PoolLock;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Activating and deactivating an LVM pool's volumes with one {@code lvchange} each way (each LVM
 * command costs). A classic snapshot comes up and goes down with its origin, a thin one on its own.
 */
final class LvmActivation {
    private static final Logger LOG = LoggerFactory.getLogger(LvmActivation.class);

    private final LvmInventory inventory;
    private final PoolLock lock;
    private final Path location;

    LvmActivation(LvmInventory inventory, PoolLock lock, Path location) {
        this.inventory = inventory;
        this.lock = lock;
        this.location = location;
    }

    /** See {@link LvmPool#activate()}. */
    List<String> activate() {
        String vg = inventory.vg();
        boolean thin = inventory.thinPool() != null;
        try (PoolLock.Held held = lock.acquire()) {
            // A classic snapshot comes up with its origin (LVM activates them together), a thin one alone.
            List<String> inactive = inventory.ourLvs(inventory.allLvs()).stream()
                    .filter(l -> !l.isActive() && !l.isInvalidSnapshot())
                    .filter(l -> thin || LvmInventory.isMaster(l))
                    .map(l -> vg + "/" + l.name()).toList();
            if (!inactive.isEmpty()) {
                List<String> cmd = new ArrayList<>(List.of("lvchange", "-q", "-ay", "-K"));
                cmd.addAll(inactive);
                Lvm.run(cmd);
            }
            List<String> active = inventory.ourLvs(inventory.allLvs()).stream().filter(LvmInventory::isClone)
                    .filter(l -> l.isActive() && !l.isInvalidSnapshot()).map(Lvm.Lv::name).toList();
            LOG.info("{} clone(s) of {} active", active.size(), location);
            return active;
        }
    }

    /** See {@link LvmPool#deactivate()}. */
    void deactivate() {
        String vg = inventory.vg();
        boolean thin = inventory.thinPool() != null;
        try (PoolLock.Held held = lock.acquire()) {
            List<Lvm.Lv> mine = inventory.ourLvs(inventory.allLvs());
            List<String> names = new ArrayList<>();
            // A classic snapshot goes down with its origin; thin clones one by one, before their masters.
            mine.stream().filter(l -> thin && l.isActive() && !LvmInventory.isMaster(l))
                    .forEach(l -> names.add(vg + "/" + l.name()));
            mine.stream().filter(l -> LvmInventory.isMaster(l) && (l.isActive() || !thin))
                    .forEach(l -> names.add(vg + "/" + l.name()));
            if (!names.isEmpty()) {
                List<String> cmd = new ArrayList<>(List.of("lvchange", "-q", "-y", "-an"));
                cmd.addAll(names);
                Lvm.run(cmd);
            }
        }
    }
}
