package io.cowherd.testkit;

import io.cowherd.Backends;
import io.cowherd.Pool;
import java.nio.file.Path;

/**
 * A second process for the contract kit's cross-process test: opens the pool, clones a master
 * {@code count} times (one call per clone, so the two processes interleave) and exits 0.
 * Arguments: backend pool-location master name-prefix count.
 */
public final class PoolWorker {
    private PoolWorker() {
    }

    public static void main(String[] args) {
        String backend = args[0];
        Path location = Path.of(args[1]);
        String master = args[2];
        String prefix = args[3];
        int count = Integer.parseInt(args[4]);
        try (Pool pool = Backends.byName(backend).openPool(location)) {
            for (int i = 0; i < count; i++) {
                pool.createClone(master, prefix + i);
            }
        }
    }
}
