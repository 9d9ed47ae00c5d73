import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.ClassSelector;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs test classes RUNS times in a row in this JVM, never again on failure, and prints one line a
 * run and "N/RUNS passed". Run by run-fault-soak.sh as a single-file program:
 * {@code java -cp TEST_CLASSPATH FaultSoak.java RUNS LABEL CLASS...}; the engine under test comes
 * from {@code -Dcowherd.test.engines}.
 */
public class FaultSoak {
    public static void main(String[] args) {
        int runs = Integer.parseInt(args[0]);
        String label = args[1];
        List<ClassSelector> classes = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            classes.add(selectClass(args[i]));
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(classes).build();
        Launcher launcher = LauncherFactory.create();
        int passed = 0;
        List<String> failures = new ArrayList<>();
        for (int run = 1; run <= runs; run++) {
            Map<String, String> failed = new LinkedHashMap<>();
            int[] counts = new int[2]; // succeeded, skipped
            long t0 = System.nanoTime();
            int thisRun = run;
            launcher.execute(request, new TestExecutionListener() {
                @Override
                public void executionStarted(TestIdentifier id) {
                    if (id.isTest()) { // a marker in the test log (stderr) to find a failure's lines
                        System.err.println("=== soak run " + thisRun + ": " + name(id));
                    }
                }

                @Override
                public void executionSkipped(TestIdentifier id, String reason) {
                    counts[1]++;
                }

                @Override
                public void executionFinished(TestIdentifier id, TestExecutionResult r) {
                    if (!id.isTest()) {
                        if (r.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                            failed.put(name(id), firstLine(r)); // a class-level failure (setup, timeout)
                        }
                        return;
                    }
                    if (r.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
                        counts[0]++;
                    } else if (r.getStatus() == TestExecutionResult.Status.ABORTED) {
                        counts[1]++; // an assumption: another engine's case
                    } else {
                        failed.put(name(id), firstLine(r));
                    }
                }
            });
            long s = (System.nanoTime() - t0) / 1_000_000_000L;
            if (failed.isEmpty() && counts[0] > 0) {
                passed++;
                System.out.printf("%s run %d: passed (%d tests, %d s)%n", label, run, counts[0], s);
            } else {
                System.out.printf("%s run %d: FAILED (%d passed, %d failed, %d s)%n", label, run, counts[0], failed.size(), s);
                for (Map.Entry<String, String> f : failed.entrySet()) {
                    String line = "  run " + run + ": " + f.getKey() + ": " + f.getValue();
                    System.out.println(line);
                    failures.add(line);
                }
            }
            System.out.flush();
        }
        System.out.printf("%s: %d/%d passed%n", label, passed, runs);
        failures.forEach(System.out::println);
        System.exit(passed == runs ? 0 : 1);
    }

    private static String name(TestIdentifier id) {
        String u = id.getUniqueId();
        String cls = u.replaceAll(".*\\[class:[^\\]]*\\.([^.\\]]+)\\].*", "$1");
        String method = u.replaceAll(".*\\[(?:test-template|method):([^(\\]]+).*", "$1");
        return cls + "." + method + " " + id.getDisplayName();
    }

    /** The failure's first line and where the test asserted it (its first frame in io.cowherd). */
    private static String firstLine(TestExecutionResult r) {
        Throwable t = r.getThrowable().orElse(null);
        if (t == null) {
            return r.getStatus().toString();
        }
        String msg = String.valueOf(t.getMessage()).lines().findFirst().orElse("");
        String at = "";
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getClassName().startsWith("io.cowherd")) {
                at = " at " + e.getClassName().replaceAll(".*\\.", "") + "." + e.getMethodName() + ":" + e.getLineNumber();
                break;
            }
        }
        return t.getClass().getSimpleName() + ": " + msg + at;
    }
}
