package io.cowherd.dmsnapshot;

import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.FileDisk;
import io.cowherd.internal.io.RawFormat;
import io.cowherd.internal.pool.PoolChecks;
import io.cowherd.internal.pool.PoolFiles;
import io.cowherd.internal.pool.PoolLock;
import io.cowherd.internal.pool.RecordedPool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Promote and commit for a dm-snapshot pool: both write a clone's changes into a raw file with
 * the kernel's {@code snapshot-merge} target (a copy of the master for promote, the master itself
 * for commit), then the clone's store goes. A merge that fails leaves the clone recorded and, if
 * it was active, active again.
 */
final class SnapshotMerge {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotMerge.class);
    /** How long a merge may take before it is given up. */
    private static final long MERGE_TIMEOUT_NANOS = 600_000_000_000L;

    private final DmSnapshotPool pool;
    private final DeviceSetup devices;
    private final CowSpace space;

    SnapshotMerge(DmSnapshotPool pool, DeviceSetup devices, CowSpace space) {
        this.pool = pool;
        this.devices = devices;
        this.space = space;
    }

    /** See {@link DmSnapshotPool#promote}. */
    Volume promote(String clone) {
        try (PoolLock.Held held = pool.locked()) {
            Map<String, Volume> all = pool.journal().load();
            Volume c = cloneFor(all, clone, "promoted");
            Path target = pool.masterFile(clone);
            if (Files.exists(target)) {
                throw PoolChecks.unrecordedFile(target, pool.location(), "move it away to promote '" + clone + "'");
            }
            Volume oldMaster = all.get(c.master());
            long size = DmSnapshotPool.masterSize(oldMaster);
            boolean wasActive = devices.ourDevice(clone).isPresent();
            devices.deactivateClone(clone); // refuses while in use, and then nothing has changed
            Volume promoted = new Volume(clone, Volume.Role.MASTER, null, target, RawFormat.NAME);
            try {
                try (VirtualDisk src = new FileDisk(oldMaster.path(), false)) {
                    DiskCopier.copy(src, new RawFormat(), target, ImagePolicy.confinedTo(pool.location()));
                }
                merge(clone, c.path(), target, size);
                PoolFiles.makeReadOnly(target);
                pool.journal().replaced(promoted);
            } catch (IOException | RuntimeException e) {
                PoolFiles.deleteQuietly(target);
                reactivateAfterFailure(all, c, wasActive, e);
                if (e instanceof IOException io) {
                    throw CowIOException.wrap(target, "promoting into", io);
                }
                throw (RuntimeException) e;
            }
            PoolFiles.deleteQuietly(c.path());
            devices.deactivateMasterIfUnusedQuietly(oldMaster.name());
            LOG.info("promoted clone '{}' to a master ({}) in {}", clone, target, pool.location());
            return promoted;
        }
    }

    /** See {@link DmSnapshotPool#commit}. */
    Volume commit(String clone) {
        try (PoolLock.Held held = pool.locked()) {
            Map<String, Volume> all = pool.journal().load();
            Volume c = cloneFor(all, clone, "committed");
            Volume master = all.get(c.master());
            PoolChecks.refuseChangeWhileCloned(pool.location(), master.name(),
                    RecordedPool.otherClones(all, master.name(), clone), "commit clone '" + clone + "' into it",
                    "delete the other clones first, or promote '" + clone + "' to a master of its own instead");
            long size = DmSnapshotPool.masterSize(master);
            boolean wasActive = devices.ourDevice(clone).isPresent();
            devices.deactivateClone(clone);
            try {
                devices.deactivateMasterIfUnused(master.name());
                PoolFiles.makeWritable(master.path());
                merge(clone, c.path(), master.path(), size);
            } catch (RuntimeException e) {
                PoolFiles.makeReadOnly(master.path());
                reactivateAfterFailure(all, c, wasActive, e);
                throw e;
            }
            PoolFiles.makeReadOnly(master.path());
            pool.journal().removed(clone);
            all.remove(clone);
            PoolFiles.deleteQuietly(c.path());
            pool.journal().compactIfWorthIt(all);
            LOG.info("committed clone '{}' into master '{}' in {}", clone, master.name(), pool.location());
            return master;
        }
    }

    /** The clone to merge: recorded, a clone, and not lost (a lost snapshot has nothing to give). */
    private Volume cloneFor(Map<String, Volume> all, String clone, String what) {
        Volume c = pool.recorded(all, clone);
        PoolChecks.requireClone(pool.location(), clone, c.role(), what);
        if (space.lost(c)) {
            throw space.overflowed(clone);
        }
        return c;
    }

    private void reactivateAfterFailure(Map<String, Volume> all, Volume clone, boolean wasActive, Exception cause) {
        if (wasActive) {
            try {
                devices.activateRecorded(all, clone);
            } catch (RuntimeException again) {
                cause.addSuppressed(again);
            }
        }
    }

    /**
     * Merges store {@code cow} into {@code target} through a {@code snapshot-merge} device of its
     * own, waiting until only metadata is left in the store; removes the device and loop devices
     * whatever happens.
     */
    private void merge(String clone, Path cow, Path target, long size) {
        String dm = "cowherd-merge-" + pool.settings().poolId() + "-" + clone;
        if (dm.length() > 127) {
            dm = dm.substring(0, 127);
        }
        LoopDevices.Loop origin = LoopDevices.attach(target, false);
        LoopDevices.Loop store = null;
        boolean created = false;
        try {
            store = LoopDevices.attach(cow, false);
            DeviceMapper.create(dm, null, "snapshot-merge",
                    devices.snapshotParams(origin.majorMinor(), store.majorMinor()), size / 512, false);
            created = true;
            long deadline = System.nanoTime() + MERGE_TIMEOUT_NANOS;
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

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CowException("interrupted", e);
        }
    }
}
