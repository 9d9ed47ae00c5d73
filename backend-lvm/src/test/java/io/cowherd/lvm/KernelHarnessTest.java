package io.cowherd.lvm;

import io.cowherd.testkit.kernel.InKernel;
import io.cowherd.testkit.kernel.UserModeLinux;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;

/**
 * The host side of this module's in-kernel tests ({@link InKernel}): runs them in User-mode Linux
 * through the test kit's {@link UserModeLinux} harness and reports each in-kernel test as a test of this run (see the in-kernel report
 * ({@code target/uml-lvm/in-kernel-report.txt}) if anything failed. A User-mode Linux kernel runs
 * on one CPU and LVM commands are CPU-bound in it, so the tests are split into two groups run in
 * two kernels at once: "a" the classic kit, the libvirt tests and {@link #KERNEL_TESTS_IN_A},
 * "b" the thin kit and the rest of {@link LvmKernelTest}.
 */
class KernelHarnessTest {
    /** LvmKernelTest's tests that run in group "a"; every other of its tests runs in group "b". */
    static final List<String> KERNEL_TESTS_IN_A = List.of("classicFillIsWatchedWarnedAndExtended",
            "anOverflowedClassicCloneIsAClearErrorAndTheMasterSurvives", "cloningThatWouldNotFitIsRefusedAndLeavesNothing",
            "aCloneMergesIntoItsMaster", "thinImportsLeaveZerosOutOnlyWhereThePoolZeroesNewBlocks");

    @TestFactory
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    List<DynamicTest> inKernelTests() throws Exception {
        Assumptions.assumeFalse(InKernel.Condition.here(), "already inside the kernel");
        List<String> a = new ArrayList<>(List.of(LvmClassicContractTest.class.getName(),
                LvmLibvirtKernelTest.class.getName()));
        List<String> b = new ArrayList<>(List.of(LvmThinContractTest.class.getName()));
        for (Method m : LvmKernelTest.class.getDeclaredMethods()) {
            if (m.isAnnotationPresent(Test.class)) {
                (KERNEL_TESTS_IN_A.contains(m.getName()) ? a : b).add(LvmKernelTest.class.getName() + "#" + m.getName());
            }
        }
        Map<String, List<String>> groups = new LinkedHashMap<>();
        groups.put("a", a);
        groups.put("b", b);
        return new UserModeLinux(Path.of("target/uml-lvm"), "3G", 540).run(groups);
    }
}
