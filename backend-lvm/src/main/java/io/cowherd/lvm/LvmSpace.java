package io.cowherd.lvm;

import io.cowherd.Fill;
import io.cowherd.FillListener;
import io.cowherd.FillPolicy;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.OutOfSpaceException;
import io.cowherd.internal.pool.PoolLock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The space of an LVM pool: whether a new master or clones fit before any {@code lvcreate} runs,
 * how full each fixed-size piece of copy-on-write storage is (a classic clone's COW area, or the
 * thin pool's data and metadata), and growing them ({@code lvextend}) before they fill, once or
 * on a timer. Sizes come from the {@code lvs} rows the caller already has where it can: each LVM
 * command costs.
 */
final class LvmSpace {
    private static final Logger LOG = LoggerFactory.getLogger(LvmSpace.class);

    private final LvmInventory inventory;
    private final LvmSettings settings;
    private final PoolLock lock;
    private final Path location;
    private final String vg;
    /** The thin pool's LV name, or null for a classic pool. */
    private final String thinPool;

    LvmSpace(LvmInventory inventory, LvmSettings settings, PoolLock lock, Path location) {
        this.inventory = inventory;
        this.settings = settings;
        this.lock = lock;
        this.location = location;
        this.vg = inventory.vg();
        this.thinPool = inventory.thinPool();
    }

    // ---- before creating ----

    /** Throws unless {@code bytes} fit; returns the volume group's extent size. */
    long checkImportSpace(Map<String, Lvm.Lv> all, long bytes, Path source) {
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
            long free = (long) (tp.size() * (100 - LvmInventory.pct(tp.dataPercent())) / 100);
            if (bytes > free) {
                throw new OutOfSpaceException("thin pool " + vg + "/" + thinPool + " has about " + free
                        + " bytes of data free, importing " + source + " may need " + bytes
                        + "; extend it (lvextend " + vg + "/" + thinPool + ")", null);
            }
            return tp.vgExtentSize();
        }
    }

    /** The COW size of one clone of {@code parent}; throws unless {@code count} of them fit. */
    long checkClassicSpace(Lvm.Lv parent, int count, int cowPercent) {
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

    /** Throws if the thin pool is past the limits at which new clones would stall; returns 0 (no COW area). */
    long checkThinSpace(Map<String, Lvm.Lv> all) {
        Lvm.Lv tp = all.get(thinPool);
        double data = LvmInventory.pct(tp.dataPercent());
        double meta = LvmInventory.pct(tp.metadataPercent());
        if (data >= settings.thinDataLimitPercent() || meta >= settings.thinMetadataLimitPercent()) {
            throw new OutOfSpaceException("thin pool " + vg + "/" + thinPool + " is " + data + "% full (data) and "
                    + meta + "% (metadata), at or past the limits " + settings.thinDataLimitPercent() + "% / "
                    + settings.thinMetadataLimitPercent() + "%: new clones would stall when it fills; extend it "
                    + "(lvextend -L +SIZE " + vg + "/" + thinPool + ", --poolmetadatasize) or delete clones", null);
        }
        return 0;
    }

    // ---- fill levels ----

    /** See {@link LvmPool#usage}. */
    List<Fill> usage() {
        Map<String, Lvm.Lv> all = inventory.allLvs();
        List<Fill> fills = new ArrayList<>();
        if (thinPool == null) {
            for (Lvm.Lv l : inventory.ourLvs(all)) {
                if (LvmInventory.isClone(l)) {
                    boolean lost = l.isInvalidSnapshot();
                    double p = lost ? 100 : LvmInventory.pct(l.dataPercent());
                    fills.add(new Fill(Fill.Kind.SNAPSHOT_COW, l.name(), p, l.size(), lost));
                }
            }
        } else {
            Lvm.Lv tp = all.get(thinPool);
            fills.add(new Fill(Fill.Kind.THIN_DATA, thinPool, LvmInventory.pct(tp.dataPercent()), tp.size()));
            Lvm.Lv meta = all.get("[" + thinPool + "_tmeta]");
            fills.add(new Fill(Fill.Kind.THIN_METADATA, thinPool, LvmInventory.pct(tp.metadataPercent()),
                    meta == null ? 0 : meta.size()));
        }
        return fills;
    }

    /** See {@link LvmPool#checkFill}. */
    List<Fill> checkFill(FillPolicy policy, FillListener listener) {
        List<Fill> fills = usage();
        for (Fill f : fills) {
            if (f.lost()) {
                LOG.info("classic clone '{}' of {} overflowed its copy-on-write area and was invalidated: its writes "
                        + "are lost", f.volume(), location);
                listener.lost(f);
                continue;
            }
            if (f.percent() >= policy.warnPercent()) {
                // The listener tells the caller; the log says it again only with -v (info).
                LOG.info("{} {} of {} is {}% full (warning at {}%)", f.kind(), f.volume(), location, f.percent(),
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
                LOG.info("cannot extend: {}", why);
                listener.cannotExtend(f, why);
                return;
            }
            String opt = f.kind() == Fill.Kind.THIN_METADATA ? "--poolmetadatasize" : "-L";
            Lvm.run("lvextend", "-q", opt, "+" + by + "b", vg + "/" + f.volume());
            long now = f.kind() == Fill.Kind.THIN_METADATA ? f.size() + by : inventory.allLvs().get(f.volume()).size();
            LOG.info("extended {} {} of {} to {} bytes", f.kind(), f.volume(), location, now);
            listener.extended(f, now);
        }
    }

    /** See {@link LvmPool#watch}. */
    AutoCloseable watch(Duration period, FillPolicy policy, FillListener listener) {
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

    static long roundUp(long v, long unit) {
        return (v + unit - 1) / unit * unit;
    }
}
