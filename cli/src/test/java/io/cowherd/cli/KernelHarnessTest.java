package io.cowherd.cli;

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
 * The host side of this module's in-kernel tests ({@link InKernel}): runs them in one User-mode
 * Linux kernel through the test kit's {@link UserModeLinux} harness and reports each in-kernel
 * test as a test of this run (report: {@code target/uml/in-kernel-report.txt}), once per build.
 * Needs the packages of {@code scripts/install-test-peers.sh}; without them it fails and says so.
 */
class KernelHarnessTest {
    @TestFactory
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    List<DynamicTest> inKernelTests() throws Exception {
        Assumptions.assumeFalse(InKernel.Condition.here(), "already inside the kernel");
        return new UserModeLinux(Path.of("target/uml"), "3G", 300).run(Map.of("all",
                List.of(CliKernelTest.class.getName())));
    }
}
