package io.cowherd.dmsnapshot;

import io.cowherd.testkit.kernel.InKernel;
import io.cowherd.testkit.kernel.UserModeLinux;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;

/**
 * The host side of this module's in-kernel tests ({@link InKernel}): runs them all in one
 * User-mode Linux kernel through the test kit's {@link UserModeLinux} harness and fails with the
 * in-kernel report ({@code target/uml/in-kernel-report.txt}) if anything failed. Needs the
 * packages of {@code scripts/install-test-peers.sh}; without them it fails and says so.
 */
class KernelHarnessTest {

    @TestFactory
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    List<DynamicTest> inKernelTests() throws Exception {
        Assumptions.assumeFalse(InKernel.Condition.here(), "already inside the kernel");
        return new UserModeLinux(Path.of("target/uml"), "3G", 340).run(Map.of("all",
                List.of(DmSnapshotKernelTest.class.getName(), DmSnapshotContractTest.class.getName())));
    }
}
