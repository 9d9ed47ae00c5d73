package io.cowherd.dmsnapshot;

import io.cowherd.Volume;
import io.cowherd.internal.pool.PoolLock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bringing a dm-snapshot pool's devices up and down from its record, whole or one volume at a
 * time (after a reboot the kernel knows nothing, the record everything). A lost snapshot is never
 * given a device again: its store's header says the kernel invalidated it.
 */
final class PoolActivation {
    private static final Logger LOG = LoggerFactory.getLogger(PoolActivation.class);

    private final DmSnapshotPool pool;
    private final DeviceSetup devices;
    private final CowSpace space;

    PoolActivation(DmSnapshotPool pool, DeviceSetup devices, CowSpace space) {
        this.pool = pool;
        this.devices = devices;
        this.space = space;
    }

    /** See {@link DmSnapshotPool#activate()}. */
    List<String> activateAll() {
        List<String> active = new ArrayList<>();
        if (!pool.exists()) {
            return active;
        }
        int made = 0;
        try (PoolLock.Held held = pool.locked()) {
            Map<String, Volume> all = pool.journal().load();
            for (Volume v : all.values()) {
                if (v.isMaster()) {
                    continue;
                }
                if (space.lost(v)) {
                    LOG.warn("clone '{}' of pool {} is lost (its snapshot overflowed or failed): not activated",
                            v.name(), pool.location());
                    continue;
                }
                if (devices.activateRecorded(all, v)) {
                    made++;
                }
                active.add(v.name());
            }
        }
        LOG.info("activated {} clone(s) of pool {}, {} active", made, pool.location(), active.size());
        return active;
    }

    /** See {@link DmSnapshotPool#activate(String)}. */
    void activate(String name) {
        try (PoolLock.Held held = pool.locked()) {
            Map<String, Volume> all = pool.journal().load();
            Volume v = pool.recorded(all, name);
            if (v.isMaster()) {
                devices.activateMaster(v, DmSnapshotPool.masterSize(v));
            } else {
                if (devices.ourDevice(name).isEmpty() && space.lost(v)) {
                    throw space.overflowed(name);
                }
                devices.activateRecorded(all, v);
            }
        }
    }

    /** See {@link DmSnapshotPool#deactivate()}. */
    void deactivateAll() {
        if (!pool.exists()) {
            return;
        }
        List<String> busy;
        try (PoolLock.Held held = pool.locked()) {
            busy = devices.deactivateAll(pool.journal().load());
        }
        if (!busy.isEmpty()) {
            throw new DeviceBusyException("pool " + pool.location() + ": devices still open, left active: " + busy
                    + "; stop what uses them and deactivate again");
        }
    }

    /** See {@link DmSnapshotPool#deactivate(String)}. */
    void deactivate(String name) {
        try (PoolLock.Held held = pool.locked()) {
            Volume v = pool.recorded(pool.journal().load(), name);
            if (v.isMaster()) {
                devices.deactivateMasterIfUnused(name);
            } else {
                devices.deactivateClone(name);
                devices.deactivateMasterIfUnused(v.master());
            }
        }
    }
}
