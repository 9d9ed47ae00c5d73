package io.cowherd.dmsnapshot;

import io.cowherd.testkit.kernel.InKernel;
import io.cowherd.CowBackend;
import io.cowherd.Pool;
import io.cowherd.testkit.BackendContractTest;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;

/**
 * The dm-snapshot backend against the whole shared contract kit, in a real kernel. After every
 * test the pool is deactivated and no table or loop device may remain.
 */
@InKernel
class DmSnapshotContractTest extends BackendContractTest {
    @Override
    protected CowBackend backend() {
        return new DmSnapshotBackend();
    }

    @AfterEach
    void nothingLeaks() throws Exception {
        try (DmSnapshotPool p = new DmSnapshotBackend().openPool(poolLocation())) {
            KernelLeaks.tearDownAndCheck(p, tempDir);
        }
        if (pool instanceof DmSnapshotPool dm && !dm.location().equals(poolLocation())) {
            KernelLeaks.tearDownAndCheck(dm, tempDir);
        }
    }

    /** The kit's pool, as this backend's type. */
    DmSnapshotPool dmPool() {
        Pool p = pool;
        return (DmSnapshotPool) p;
    }

    Path dir() {
        return tempDir;
    }
}
