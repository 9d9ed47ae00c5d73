package io.cowherd.dmsnapshot;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the fill level of every active clone of a pool: warns when a COW store crosses a
 * threshold and grows it (file, loop capacity, table reload) before it overflows, because an
 * overflowed snapshot is lost for good. A store that cannot grow any more and overflows anyway
 * is reported as {@link CowStoreFullException} naming the clone.
 */
public final class CowWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CowWatch.class);

    /**
     * What the watch does.
     *
     * @param interval how often it reads every clone's status
     * @param warnPercents fill levels that log a warning when first crossed, ascending
     * @param growAtPercent the fill level at which a store is grown
     * @param growFactor each growth multiplies the store's size by this (at least by one chunk)
     * @param maxBytes no store grows beyond this; 0 means the size that can hold the whole master
     * @param listener told about warnings, growths and losses (may be null)
     */
    public record Options(Duration interval, List<Integer> warnPercents, int growAtPercent, double growFactor,
            long maxBytes, Listener listener) {
        /** Every 2 s, warnings at 70% and 90%, growth by doubling at 60%, up to the full master. */
        public static Options defaults() {
            return new Options(Duration.ofSeconds(2), List.of(70, 90), 60, 2.0, 0, null);
        }

        /** The same options with another interval. */
        public Options withInterval(Duration d) {
            return new Options(d, warnPercents, growAtPercent, growFactor, maxBytes, listener);
        }

        /** The same options with another size limit. */
        public Options withMaxBytes(long bytes) {
            return new Options(interval, warnPercents, growAtPercent, growFactor, bytes, listener);
        }

        /** The same options with a listener. */
        public Options withListener(Listener l) {
            return new Options(interval, warnPercents, growAtPercent, growFactor, maxBytes, l);
        }
    }

    /** Hears what the watch sees. Called on the watch's thread. */
    public interface Listener {
        /** A clone's store crossed a warning threshold. */
        default void warned(CowUsage usage, int thresholdPercent) {
        }

        /** A clone's store was grown. */
        default void grew(String clone, long fromBytes, long toBytes) {
        }

        /** A clone's snapshot was lost (overflowed or failed). */
        default void lost(CowStoreFullException error) {
        }
    }

    private final DmSnapshotPool pool;
    private final Options options;
    private final ScheduledExecutorService timer;
    private final Map<String, Integer> warnedAt = new ConcurrentHashMap<>();
    private final Map<String, Boolean> reportedLost = new ConcurrentHashMap<>();

    CowWatch(DmSnapshotPool pool, Options options) {
        this.pool = pool;
        this.options = options;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cowherd-cow-watch " + pool.location().getFileName());
            t.setDaemon(true);
            return t;
        });
    }

    void start() {
        long ms = Math.max(1, options.interval().toMillis());
        timer.scheduleWithFixedDelay(this::safeCheck, 0, ms, TimeUnit.MILLISECONDS);
    }

    private void safeCheck() {
        try {
            checkNow();
        } catch (RuntimeException e) {
            LOG.warn("COW watch of {} failed this round: {}", pool.location(), e.toString());
        }
    }

    /** One round: reads every clone's usage, warns, grows. Also callable directly. */
    public synchronized void checkNow() {
        for (CowUsage u : pool.usage()) {
            if (u.state() == CowUsage.State.INACTIVE) {
                continue;
            }
            if (u.lost()) {
                if (reportedLost.putIfAbsent(u.cloneName(), Boolean.TRUE) == null) {
                    CowStoreFullException e = lostError(u.cloneName());
                    LOG.error("{}", e.getMessage());
                    if (options.listener() != null) {
                        options.listener().lost(e);
                    }
                }
                continue;
            }
            double pct = u.percentFull();
            int level = warnedAt.getOrDefault(u.cloneName(), 0);
            for (int t : options.warnPercents()) {
                if (pct >= t && t > level) {
                    level = t;
                    LOG.warn("COW store of clone '{}' in pool {} is {}% full ({} of {} sectors)", u.cloneName(),
                            pool.location(), String.format("%.1f", pct), u.allocatedSectors(), u.totalSectors());
                    if (options.listener() != null) {
                        options.listener().warned(u, t);
                    }
                }
            }
            warnedAt.put(u.cloneName(), level);
            if (pct >= options.growAtPercent()) {
                grow(u);
            }
        }
    }

    private void grow(CowUsage u) {
        long now = u.totalSectors() * 512;
        long limit = options.maxBytes() > 0 ? options.maxBytes() : Long.MAX_VALUE;
        long want = Math.min(limit, Math.max((long) (now * options.growFactor()), now + pool.settings().chunkBytes()));
        if (want <= now) {
            LOG.warn("COW store of clone '{}' is {}% full and at its size limit ({} bytes): it will overflow if "
                    + "writes continue", u.cloneName(), String.format("%.1f", u.percentFull()), now);
            return;
        }
        long got = pool.growCowStore(u.cloneName(), want);
        if (got > now) {
            warnedAt.remove(u.cloneName()); // levels are relative to the new size
            if (options.listener() != null) {
                options.listener().grew(u.cloneName(), now, got);
            }
        }
    }

    private CowStoreFullException lostError(String clone) {
        try {
            pool.checkHealthy(clone);
        } catch (CowStoreFullException e) {
            return e;
        }
        return new CowStoreFullException(clone, "clone '" + clone + "' overflowed");
    }

    /** Stops the watch; stores stay as they are. */
    @Override
    public void close() {
        timer.shutdownNow();
        try {
            timer.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.forget(this);
    }
}
