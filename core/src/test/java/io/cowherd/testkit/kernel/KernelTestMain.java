package io.cowherd.testkit.kernel;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs test classes and methods inside the kernel, all in this one JVM (a process start costs
 * 0.1-0.5 s in User-mode Linux), prints one line per test and the failures, and exits 0 only if
 * every test passed, none was skipped and at least one ran. Started by {@link UserModeLinux}.
 *
 * <p>Arguments: selectors, each {@code CLASS} or {@code CLASS#METHOD} (fully qualified).
 */
public final class KernelTestMain {
    /** The line that says the whole group passed; the harness looks for it. */
    static final String PASS = "IN-KERNEL RESULT: PASS";

    private KernelTestMain() {
    }

    /** Runs the selected tests; exits with 0 (all passed) or 1. */
    public static void main(String[] args) throws ClassNotFoundException {
        System.setProperty("cowherd.kernel", "uml");
        LauncherDiscoveryRequestBuilder request = LauncherDiscoveryRequestBuilder.request();
        for (String selector : args) {
            int hash = selector.indexOf('#');
            if (hash < 0) {
                request.selectors(selectClass(Class.forName(selector)));
            } else {
                request.selectors(selectMethod(Class.forName(selector.substring(0, hash)), selector.substring(hash + 1)));
            }
        }
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        String results = System.getProperty(RESULTS_PROPERTY);
        if (results != null) {
            launcher.execute(request.build(), summary, new LinePrinter(), new ResultWriter(Path.of(results)));
        } else {
            launcher.execute(request.build(), summary, new LinePrinter());
        }
        TestExecutionSummary s = summary.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 40);
        s.printTo(out);
        boolean ok = s.getTotalFailureCount() == 0 && s.getTestsSucceededCount() > 0 && s.getTestsSkippedCount() == 0;
        System.out.println(ok ? PASS : "IN-KERNEL RESULT: FAIL");
        System.exit(ok ? 0 : 1);
    }

    /** The system property naming the file that {@link ResultWriter} writes. */
    static final String RESULTS_PROPERTY = "cowherd.kernel.results";

    /**
     * One tab-separated line per test for the host side ({@link UserModeLinux}) to report each
     * in-kernel test as a test of its own: status, class, method, milliseconds, message (tabs and
     * line breaks escaped as \t and \n).
     */
    private static final class ResultWriter implements TestExecutionListener {
        private final Path file;
        private final Map<String, Long> started = new ConcurrentHashMap<>();

        ResultWriter(Path file) {
            this.file = file;
        }

        @Override
        public void executionStarted(TestIdentifier id) {
            started.put(id.getUniqueId(), System.nanoTime());
        }

        @Override
        public void executionSkipped(TestIdentifier id, String reason) {
            if (id.isTest()) {
                write("ABORTED", id, 0, "skipped: " + reason);
            }
        }

        @Override
        public void executionFinished(TestIdentifier id, TestExecutionResult result) {
            if (id.isTest()) {
                long ms = (System.nanoTime() - started.getOrDefault(id.getUniqueId(), System.nanoTime())) / 1_000_000;
                write(result.getStatus().name(), id, ms, result.getThrowable().map(KernelTestMain::describe).orElse(""));
            }
        }

        private synchronized void write(String status, TestIdentifier id, long ms, String message) {
            String line = String.join("\t", status, LinePrinter.className(id), id.getLegacyReportingName(),
                    Long.toString(ms), message.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")) + "\n";
            try {
                Files.writeString(file, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** A failure with its stack trace, for the host's report. */
    private static String describe(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        return w.toString();
    }

    /** One line per finished or skipped test, with its class and time. */
    private static final class LinePrinter implements TestExecutionListener {
        private final Map<String, Long> started = new ConcurrentHashMap<>();

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
                System.out.println(result.getStatus() + " " + id.getLegacyReportingName() + " [" + className(id) + "] "
                        + ms + " ms" + result.getThrowable().map(t -> ": " + t).orElse(""));
            }
        }

        static String className(TestIdentifier id) {
            String u = id.getUniqueId();
            int c = u.indexOf("[class:");
            return c < 0 ? "" : u.substring(c + 7, u.indexOf(']', c)).replaceAll(".*\\.", "");
        }
    }
}
