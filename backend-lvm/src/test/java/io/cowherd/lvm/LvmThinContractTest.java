package io.cowherd.lvm;

import io.cowherd.testkit.kernel.InKernel;
import java.nio.file.Path;

/** The contract kit on a thin pool ({@code /dev/VG/tp}, thin snapshots), in a real kernel. */
@InKernel
class LvmThinContractTest extends LvmContractSupport {
    @Override
    Path freshLocation() {
        return bed.newThinPool(512);
    }

    /** Thin snapshots share the thin pool's data. */
    @Override
    protected boolean clonesHaveStores() {
        return false;
    }
}
