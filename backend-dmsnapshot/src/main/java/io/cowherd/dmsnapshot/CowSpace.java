package io.cowherd.dmsnapshot;

import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.Fill;
import io.cowherd.FillListener;
import io.cowherd.FillPolicy;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.Volume;
import io.cowherd.internal.pool.PoolLock;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The space of a dm-snapshot pool's clones: each clone's COW store is a sparse file of a fixed
 * size, and a snapshot whose store overflows is invalidated by the kernel and lost. This reads how
 * full each store is (from the kernel, or from the store's own header after a reboot), grows
 * stores before they fill, and runs the watches ({@link CowWatch}) that do so on a timer.
 */
final class CowSpace {
    private static final Logger LOG = LoggerFactory.getLogger(CowSpace.class);

    private final DmSnapshotPool pool;
    private final DeviceSetup devices;
    private final List<CowWatch> watches = new CopyOnWriteArrayList<>();

    CowSpace(DmSnapshotPool pool, DeviceSetup devices) {
        this.pool = pool;
        this.devices = devices;
    }

    // ---- fill levels ----

    /** The kernel's status of a clone's snapshot; state INACTIVE when the clone has no device now. */
    CowUsage cowStatus(String clone) {
        pool.cowStoreOf(clone);
        if (devices.ourDevice(clone).isEmpty()) {
            return new CowUsage(clone, CowUsage.State.INACTIVE, 0, 0, 0);
        }
        return CowUsage.parse(clone, devices.targetStatus(clone));
    }

    /** See {@link DmSnapshotPool#fill}. */
    Fill fill(String clone) {
        Path cow = pool.cowStoreOf(clone);
        long bytes;
        try {
            bytes = Files.size(cow);
        } catch (IOException e) {
            throw CowIOException.wrap(cow, "reading the COW store's size", e);
        }
        CowUsage u = cowStatus(clone);
        if (u.state() != CowUsage.State.INACTIVE) {
            return new Fill(Fill.Kind.SNAPSHOT_COW, clone, u.percentFull(), bytes, u.lost());
        }
        CowStore disk = CowStore.read(cow);
        if (disk.state() == CowStore.State.INVALID) {
            return new Fill(Fill.Kind.SNAPSHOT_COW, clone, 100, bytes, true);
        }
        double pct = bytes == 0 ? 0
                : Math.min(100, 100.0 * disk.usedChunks() * pool.settings().chunkBytes() / bytes);
        return new Fill(Fill.Kind.SNAPSHOT_COW, clone, pct, bytes, false);
    }

    /** {@link #fill} of every clone in the pool, in creation order. */
    List<Fill> usage() {
        return pool.recorded().values().stream().filter(v -> !v.isMaster()).map(v -> fill(v.name())).toList();
    }

    /** Whether the clone's snapshot is lost, by the kernel's status or, when inactive, its store's header. */
    boolean lost(Volume clone) {
        if (devices.ourDevice(clone.name()).isPresent()) {
            return CowUsage.parse(clone.name(), devices.targetStatus(clone.name())).lost();
        }
        return CowStore.read(clone.path()).state() == CowStore.State.INVALID;
    }

    /** The error for a clone whose store overflowed: its writes are gone. */
    CowStoreFullException overflowed(String clone) {
        Path cow = pool.cowFile(clone);
        long bytes;
        try {
            bytes = Files.size(cow);
        } catch (IOException e) {
            bytes = -1;
        }
        return new CowStoreFullException(clone, "clone '" + clone + "' in pool " + pool.location() + " overflowed its "
                + "copy-on-write store " + cow + " (" + bytes + " bytes) and the kernel invalidated it: "
                + "its writes are lost for good; delete it and clone again (run a watch, or give clones a larger "
                + "initial COW store, to grow stores before they fill)");
    }

    // ---- store sizes ----

    /** See {@link DmSnapshotPool#maxCowBytes}. */
    long maxCowBytes(long masterBytes) {
        long chunk = pool.settings().chunkBytes();
        long data = (masterBytes + chunk - 1) / chunk;
        long perArea = chunk / 16;
        long areas = (data + perArea - 1) / perArea;
        return (1 + data + areas + 1) * chunk;
    }

    /** A new clone's store: {@code cowPercent} of the largest it can need, at least a few chunks. */
    long initialCowBytes(long masterBytes, int cowPercent) {
        long chunk = pool.settings().chunkBytes();
        long full = maxCowBytes(masterBytes);
        long want = full * cowPercent / 100;
        // At least the header, one metadata area and a few data chunks.
        return Math.min(full, Math.max(DmSnapshotPool.roundUp(want, chunk), 8 * chunk));
    }

    /** See {@link DmSnapshotPool#growCowStore}. */
    long growCowStore(String clone, long newBytes) {
        try (PoolLock.Held held = pool.locked()) {
            Map<String, Volume> all = pool.journal().load();
            Volume v = pool.recorded(all, clone);
            if (v.isMaster()) {
                throw new IllegalArgumentException("'" + clone + "' is a master and has no COW store");
            }
            long masterBytes = DmSnapshotPool.masterSize(all.get(v.master()));
            long now = Files.size(v.path());
            long target = Math.min(DmSnapshotPool.roundUp(newBytes, pool.settings().chunkBytes()),
                    maxCowBytes(masterBytes));
            if (target <= now) {
                return now;
            }
            try (RandomAccessFile f = new RandomAccessFile(v.path().toFile(), "rw")) {
                f.setLength(target);
            }
            if (devices.ourDevice(clone).isPresent()) {
                devices.reloadGrownStore(clone, masterBytes);
            }
            LOG.info("grew the COW store of clone '{}' from {} to {} bytes", clone, now, target);
            return target;
        } catch (IOException e) {
            throw CowIOException.wrap(pool.cowFile(clone), "growing", e);
        }
    }

    // ---- checking and watching ----

    /** See {@link DmSnapshotPool#checkFill}. */
    List<Fill> checkFill(FillPolicy policy, FillListener listener) {
        List<Fill> fills = usage();
        for (Fill f : fills) {
            if (f.lost()) {
                LOG.debug("{}", overflowed(f.volume()).getMessage()); // the watch logs it once
                listener.lost(f);
                continue;
            }
            if (f.percent() >= policy.warnPercent()) {
                LOG.debug("COW store of clone '{}' in pool {} is {}% full ({} bytes)", f.volume(), pool.location(),
                        String.format("%.1f", f.percent()), f.size());
                listener.warning(f, policy.warnPercent());
            }
            if (f.percent() >= policy.extendPercent()) {
                grow(f, policy, listener);
            }
        }
        return fills;
    }

    private void grow(Fill f, FillPolicy policy, FillListener listener) {
        long max;
        try {
            max = maxCowBytes(DmSnapshotPool.masterSize(pool.recorded(pool.recorded(f.volume()).master())));
        } catch (NoSuchVolumeException gone) {
            return; // deleted meanwhile
        }
        if (f.size() >= max) {
            return; // holds every chunk of the master: cannot overflow
        }
        long chunk = pool.settings().chunkBytes();
        long want = Math.max(f.size() + f.size() * policy.extendByPercent() / 100, f.size() + chunk);
        try {
            long got = growCowStore(f.volume(), want);
            if (got > f.size()) {
                listener.extended(f, got);
            }
        } catch (CowException e) {
            LOG.info("cannot grow the COW store of clone '{}': {}", f.volume(), e.getMessage()); // the listener says it
            listener.cannotExtend(f, e.getMessage());
        }
    }

    /** See {@link DmSnapshotPool#watch}. */
    AutoCloseable watch(Duration period, FillPolicy policy, FillListener listener) {
        CowWatch w = new CowWatch(pool, period, policy, listener);
        watches.add(w);
        return w;
    }

    /** A closed watch leaves the list. */
    void forget(CowWatch w) {
        watches.remove(w);
    }

    /** Stops every watch still running (the pool is closing). */
    void closeWatches() {
        for (CowWatch w : List.copyOf(watches)) {
            w.close();
        }
    }
}
