package io.cowherd.lvm;

import io.cowherd.testkit.kernel.InKernel;
import java.nio.file.Path;

/** The contract kit on a classic pool ({@code /dev/VG}, classic snapshots), in a real kernel. */
@InKernel
class LvmClassicContractTest extends LvmContractSupport {
    @Override
    Path freshLocation() {
        return Path.of("/dev", bed.newVg());
    }
}
