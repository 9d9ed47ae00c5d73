package io.cowherd.dmsnapshot;

import io.cowherd.Fill;
import io.cowherd.FillListener;
import io.cowherd.FillPolicy;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link DmSnapshotPool#watch}: runs {@link DmSnapshotPool#checkFill} every period on a thread of
 * its own, so COW stores grow before they overflow (an overflowed snapshot is lost for good). It
 * tells its listener of each warning threshold once per clone (again after the store grew, as
 * levels are relative to the size) and of each lost clone once.
 */
final class CowWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CowWatch.class);

    private final DmSnapshotPool pool;
    private final FillPolicy policy;
    private final FillListener listener;
    private final ScheduledExecutorService timer;
    private final Map<String, Boolean> warned = new ConcurrentHashMap<>();
    private final Map<String, Boolean> reportedLost = new ConcurrentHashMap<>();

    CowWatch(DmSnapshotPool pool, Duration period, FillPolicy policy, FillListener listener) {
        this.pool = pool;
        this.policy = policy;
        this.listener = listener;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cowherd-cow-watch " + pool.location().getFileName());
            t.setDaemon(true);
            return t;
        });
        long ms = Math.max(1, period.toMillis());
        timer.scheduleWithFixedDelay(this::safeCheck, 0, ms, TimeUnit.MILLISECONDS);
    }

    private void safeCheck() {
        try {
            checkNow();
        } catch (RuntimeException e) {
            if (timer.isShutdown()) {
                return; // closed while checking
            }
            LOG.warn("COW watch of {} failed this round: {}", pool.location(), e.toString());
        }
    }

    /** One round, on the calling thread. */
    synchronized void checkNow() {
        pool.checkFill(policy, new FillListener() {
            @Override
            public void warning(Fill fill, int threshold) {
                if (warned.putIfAbsent(fill.volume(), Boolean.TRUE) == null) {
                    LOG.info("COW store of clone '{}' in pool {} is {}% full ({} bytes)", fill.volume(), pool.location(),
                            String.format("%.1f", fill.percent()), fill.size());
                    listener.warning(fill, threshold);
                }
            }

            @Override
            public void extended(Fill fill, long newSize) {
                warned.remove(fill.volume());
                listener.extended(fill, newSize);
            }

            @Override
            public void cannotExtend(Fill fill, String reason) {
                listener.cannotExtend(fill, reason);
            }

            @Override
            public void lost(Fill fill) {
                if (reportedLost.putIfAbsent(fill.volume(), Boolean.TRUE) == null) {
                    LOG.error("clone '{}' in pool {} overflowed its copy-on-write store and the kernel invalidated it: "
                            + "its writes are lost", fill.volume(), pool.location());
                    listener.lost(fill);
                }
            }
        });
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
