package io.cowherd.lvm;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.PrintWriter;
import java.lang.reflect.Method;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs the in-kernel LVM test classes inside User-mode Linux, all in this one JVM (each LVM command
 * costs 0.3-0.5 s there, so nothing is wasted on JVM starts), prints one line per test and the failures, and exits 0 only if every
 * test passed and at least one ran. Started by {@link KernelHarnessTest}.
 */
public final class InKernelMain {
    /** The test classes that need the kernel. */
    static final List<Class<?>> CLASSES = List.of(LvmKernelTest.class, LvmClassicContractTest.class, LvmThinContractTest.class);
    /** LvmKernelTest's tests that run in group "a"; every other of its tests runs in group "b". */
    static final List<String> KERNEL_TESTS_IN_A = List.of("classicFillIsWatchedWarnedAndExtended",
            "anOverflowedClassicCloneIsAClearErrorAndTheMasterSurvives", "cloningThatWouldNotFitIsRefusedAndLeavesNothing",
            "aCloneMergesIntoItsMaster");
    /** The groups {@link KernelHarnessTest} runs in two kernels at once; together they are everything. */
    static final List<String> GROUPS = List.of("a", "b");

    private InKernelMain() {
    }

    public static void main(String[] args) {
        System.setProperty("cowherd.kernel", "uml");
        LauncherDiscoveryRequestBuilder b = LauncherDiscoveryRequestBuilder.request();
        String group = args.length > 0 ? args[0] : "all";
        switch (group) {
            case "all" -> CLASSES.forEach(c -> b.selectors(selectClass(c)));
            case "a", "b" -> {
                // Each User-mode Linux kernel has one CPU: the classes are split between two kernels,
                // group "a" the classic kit and classic kernel tests, "b" the thin kit and the rest.
                b.selectors(selectClass(group.equals("a") ? LvmClassicContractTest.class : LvmThinContractTest.class));
                for (Method m : LvmKernelTest.class.getDeclaredMethods()) {
                    if (m.isAnnotationPresent(Test.class) && KERNEL_TESTS_IN_A.contains(m.getName()) == group.equals("a")) {
                        b.selectors(selectMethod(LvmKernelTest.class, m));
                    }
                }
            }
            default -> throw new IllegalArgumentException("group is a, b or all, not " + group);
        }
        System.out.println("in-kernel group " + group);
        LauncherDiscoveryRequest request = b.build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        TestExecutionListener lines = new TestExecutionListener() {
            private final java.util.Map<String, Long> started = new java.util.concurrent.ConcurrentHashMap<>();

            @Override
            public void executionStarted(TestIdentifier id) {
                started.put(id.getUniqueId(), System.nanoTime());
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                System.out.println("SKIPPED " + id.getDisplayName() + ": " + reason);
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (id.isTest()) {
                    long ms = (System.nanoTime() - started.getOrDefault(id.getUniqueId(), System.nanoTime())) / 1_000_000;
                    System.out.println(result.getStatus() + " " + id.getLegacyReportingName() + " [" + parent(id) + "] "
                            + ms + " ms" + result.getThrowable().map(t -> ": " + t).orElse(""));
                }
            }

            private String parent(TestIdentifier id) {
                String u = id.getUniqueId();
                int c = u.indexOf("[class:");
                return c < 0 ? "" : u.substring(c + 7, u.indexOf(']', c)).replaceAll(".*\\.", "");
            }
        };
        launcher.execute(request, summary, lines);
        TestExecutionSummary s = summary.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 40);
        s.printTo(out);
        boolean ok = s.getTotalFailureCount() == 0 && s.getTestsSucceededCount() > 0 && s.getTestsSkippedCount() == 0;
        System.out.println(ok ? "IN-KERNEL RESULT: PASS" : "IN-KERNEL RESULT: FAIL");
        System.exit(ok ? 0 : 1);
    }
}
