package io.cowherd.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The host side of the in-kernel tests: boots Debian's User-mode Linux (a real 6.1 kernel with
 * dm-snapshot, dm-thin, loop and LVM, the host's files as its root) through {@code backend-dmsnapshot/src/test/uml/run-in-uml.sh},
 * runs {@link InKernelMain} there with this test class path (two kernels at once, one JVM each, for
 * the two halves of {@link InKernelMain#GROUPS}), and fails with the in-kernel report if anything
 * failed. Needs {@code user-mode-linux} and {@code kmod}
 * ({@code scripts/install-test-peers.sh}); without them it fails and says so.
 */
class KernelHarnessTest {

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void theInKernelTestsPassInsideUserModeLinux() throws Exception {
        Assumptions.assumeFalse(InKernel.Condition.here(), "already inside the kernel");
        // The dm-snapshot module's User-mode Linux launcher (with its XSAVE shim), shared rather than copied.
        Path script = Path.of("../backend-dmsnapshot/src/test/uml/run-in-uml.sh").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(script), "missing " + script);
        Path work = Files.createDirectories(Path.of("target/uml-lvm").toAbsolutePath());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = testClassPath();
        // A User-mode Linux kernel runs on one CPU and nearly every LVM command is CPU-bound in it,
        // so the tests are split into two groups (InKernelMain.GROUPS, together all of them) run in
        // two kernels at once, each with its own loop devices, LVM metadata and lock directory.
        long t0 = System.nanoTime();
        Map<String, Process> runs = new LinkedHashMap<>();
        Map<String, Path> logs = new LinkedHashMap<>();
        for (String group : InKernelMain.GROUPS) {
            Path dir = Files.createDirectories(work.resolve("group-" + group));
            List<String> cmd = new ArrayList<>(List.of("bash", script.toString(), "-m", "3G", "-t", "330", "--",
                    java, "-Xss1m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dcowherd.kernel=uml",
                    "-Djava.io.tmpdir=" + dir, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                    "-cp", cp, InKernelMain.class.getName(), group));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("TMPDIR", dir.toString());
            Path log = work.resolve("in-kernel-report-" + group + ".txt");
            pb.redirectOutput(log.toFile());
            logs.put(group, log);
            runs.put(group, pb.start());
        }
        StringBuilder report = new StringBuilder();
        Map<String, Integer> exits = new LinkedHashMap<>();
        for (String group : runs.keySet()) {
            Process p = runs.get(group);
            boolean done = p.waitFor(Math.max(1, 340 - (System.nanoTime() - t0) / 1_000_000_000L), TimeUnit.SECONDS);
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            exits.put(group, done ? p.exitValue() : -1);
            report.append("==== group ").append(group).append(done ? "" : " (TIMED OUT)").append(" ====\n")
                    .append(Files.readString(logs.get(group), StandardCharsets.UTF_8));
        }
        Path log = work.resolve("in-kernel-report.txt");
        Files.writeString(log, report, StandardCharsets.UTF_8);
        System.out.println(report);
        System.out.printf("in-kernel run took %.1f s%n", (System.nanoTime() - t0) / 1e9);
        for (String group : runs.keySet()) {
            assertEquals(0, exits.get(group), "in-kernel tests of group " + group + " failed (exit " + exits.get(group)
                    + ", -1 = timed out), report " + log + ":\n" + report);
            assertTrue(Files.readString(logs.get(group), StandardCharsets.UTF_8).contains("IN-KERNEL RESULT: PASS"),
                    "group " + group + " did not pass: " + report);
        }
    }

    /** Surefire passes the test class path in java.class.path; keep only what exists. */
    private static String testClassPath() throws IOException {
        List<String> parts = new ArrayList<>();
        for (String s : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!s.isEmpty() && Files.exists(Path.of(s))) {
                parts.add(Path.of(s).toAbsolutePath().toString());
            }
        }
        return String.join(File.pathSeparator, parts);
    }
}
