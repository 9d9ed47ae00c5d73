package io.cowherd.dmsnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The host side of the in-kernel tests: boots Debian's User-mode Linux (a real 6.1 kernel with
 * dm-snapshot and loop, the host's files as its root) through {@code src/test/uml/run-in-uml.sh},
 * runs {@link InKernelMain} there in one JVM with this test class path, and fails with the
 * in-kernel report if anything failed. Needs {@code user-mode-linux} and {@code kmod}
 * ({@code scripts/install-test-peers.sh}); without them it fails and says so.
 */
class KernelHarnessTest {

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void theInKernelTestsPassInsideUserModeLinux() throws Exception {
        Assumptions.assumeFalse(InKernel.Condition.here(), "already inside the kernel");
        Path script = Path.of("src/test/uml/run-in-uml.sh").toAbsolutePath();
        assertTrue(Files.isRegularFile(script), "missing " + script);
        Path work = Files.createDirectories(Path.of("target/uml").toAbsolutePath());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of("bash", script.toString(), "-m", "3G", "-t", "330", "--",
                java, "-Xss1m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dcowherd.kernel=uml",
                "-Djava.io.tmpdir=" + work, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp", testClassPath(), InKernelMain.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("TMPDIR", work.toString());
        Path log = work.resolve("in-kernel-report.txt");
        pb.redirectOutput(log.toFile());
        long t0 = System.nanoTime();
        Process p = pb.start();
        assertTrue(p.waitFor(340, TimeUnit.SECONDS), "User-mode Linux run timed out; see " + log);
        String report = Files.readString(log, StandardCharsets.UTF_8);
        System.out.println(report);
        System.out.printf("in-kernel run took %.1f s%n", (System.nanoTime() - t0) / 1e9);
        assertEquals(0, p.exitValue(), "in-kernel tests failed (exit " + p.exitValue() + "), report " + log + ":\n"
                + report);
        assertTrue(report.contains("IN-KERNEL RESULT: PASS"), report);
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
