package io.cowherd.dmsnapshot;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintWriter;
import java.util.List;
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
 * Runs the in-kernel test classes inside User-mode Linux, all in this one JVM (a process start
 * costs 0.1-0.5 s there), prints one line per test and the failures, and exits 0 only if every
 * test passed and at least one ran. Started by {@link KernelHarnessTest}.
 */
public final class InKernelMain {
    /** The test classes that need the kernel. */
    static final List<Class<?>> CLASSES = List.of(DmSnapshotKernelTest.class, DmSnapshotContractTest.class);

    private InKernelMain() {
    }

    public static void main(String[] args) {
        System.setProperty("cowherd.kernel", "uml");
        LauncherDiscoveryRequestBuilder b = LauncherDiscoveryRequestBuilder.request();
        for (Class<?> c : CLASSES) {
            b.selectors(selectClass(c));
        }
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
