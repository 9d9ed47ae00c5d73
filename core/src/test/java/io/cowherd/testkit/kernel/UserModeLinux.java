package io.cowherd.testkit.kernel;

import org.junit.jupiter.api.DynamicTest;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs in-kernel tests inside Debian's User-mode Linux (a real 6.1 kernel with dm-snapshot,
 * dm-thin, loop and LVM, the host's files as its root) from an ordinary JUnit test on the host:
 * boots one kernel per group, at the same time, each running {@link KernelTestMain} in one JVM
 * with this test class path, and fails with the in-kernel report if any group failed.
 *
 * <p>The launcher script {@code run-in-uml.sh} (the project's copy of the shared
 * {@code run-in-kernel.sh} recipe, plus the XSAVE shim that hosts with Intel AMX need) ships in
 * this test-jar and is unpacked under the work directory. Needs {@code user-mode-linux},
 * {@code kmod}, {@code lvm2}, {@code thin-provisioning-tools} and {@code gcc}
 * ({@code scripts/install-test-peers.sh}).
 */
public final class UserModeLinux {
    private final Path work;
    private final String memory;
    private final int timeoutSeconds;

    /**
     * @param work the directory for the unpacked launcher, each group's temporary files and the reports
     * @param memory guest RAM per kernel ({@code 3G})
     * @param timeoutSeconds wall-clock limit for the whole run, boots included
     */
    public UserModeLinux(Path work, String memory, int timeoutSeconds) {
        this.work = work.toAbsolutePath();
        this.memory = memory;
        this.timeoutSeconds = timeoutSeconds;
    }

    /** The launcher script, unpacked from the test-jar into {@code dir} (with its shim beside it). */
    public static Path launcher(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String name : List.of("run-in-uml.sh", "xstate-shim.c")) {
            try (InputStream in = UserModeLinux.class.getResourceAsStream(name)) {
                if (in == null) {
                    throw new IOException("resource " + name + " missing from the test kit");
                }
                Files.copy(in, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return dir.resolve("run-in-uml.sh");
    }

    /**
     * Runs each group (name to {@link KernelTestMain} selectors) in a kernel of its own, all at
     * once, and gives back every in-kernel test as a test of the host's run, passed, failed or
     * skipped as it was in the kernel (so the build's report counts them for what they are), and
     * one more per group that fails if the group did not run to its end (a timeout, a crashed
     * kernel). The combined report is written to {@code WORK/in-kernel-report.txt}.
     */
    public List<DynamicTest> run(Map<String, List<String>> groups) throws IOException, InterruptedException {
        Path script = launcher(work.resolve("launcher"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = testClassPath();
        long t0 = System.nanoTime();
        Map<String, Process> runs = new LinkedHashMap<>();
        Map<String, Path> logs = new LinkedHashMap<>();
        Map<String, Path> resultFiles = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> g : groups.entrySet()) {
            // Each kernel has its own temporary directory: its own loop files, LVM metadata, lock files.
            Path dir = Files.createDirectories(work.resolve("group-" + g.getKey()));
            Path results = work.resolve("in-kernel-results-" + g.getKey() + ".tsv");
            Files.deleteIfExists(results);
            resultFiles.put(g.getKey(), results);
            List<String> cmd = new ArrayList<>(List.of("bash", script.toString(), "-m", memory, "-t",
                    Integer.toString(timeoutSeconds - 10), "--", java, "-Xss1m", "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1", "-Dcowherd.kernel=uml", "-Djava.io.tmpdir=" + dir,
                    "-D" + KernelTestMain.RESULTS_PROPERTY + "=" + results,
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", cp, KernelTestMain.class.getName()));
            cmd.addAll(g.getValue());
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("TMPDIR", dir.toString());
            Path log = work.resolve("in-kernel-report-" + g.getKey() + ".txt");
            pb.redirectOutput(log.toFile());
            logs.put(g.getKey(), log);
            runs.put(g.getKey(), pb.start());
        }
        StringBuilder report = new StringBuilder();
        Map<String, Integer> exits = new LinkedHashMap<>();
        for (String group : runs.keySet()) {
            Process p = runs.get(group);
            long left = Math.max(1, timeoutSeconds - (System.nanoTime() - t0) / 1_000_000_000L);
            boolean done = p.waitFor(left, TimeUnit.SECONDS);
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
        System.out.printf("in-kernel run took %.1f s (report %s)%n", (System.nanoTime() - t0) / 1e9, log);
        List<DynamicTest> tests = new ArrayList<>();
        for (String group : runs.keySet()) {
            Path results = resultFiles.get(group);
            List<String> lines = Files.exists(results) ? Files.readAllLines(results, StandardCharsets.UTF_8) : List.of();
            for (String line : lines) {
                tests.add(asTest(group, line));
            }
            String groupLog = Files.readString(logs.get(group), StandardCharsets.UTF_8);
            int exit = exits.get(group);
            tests.add(DynamicTest.dynamicTest("kernel group " + group + " ran to its end", () -> {
                assertEquals(0, exit, "in-kernel tests of group " + group + " failed (exit " + exit
                        + ", -1 = timed out, 124 = kernel timeout, 125 = kernel gave no status), report " + log + ":\n"
                        + groupLog);
                assertTrue(groupLog.contains(KernelTestMain.PASS), "group " + group + " did not pass: " + groupLog);
            }));
        }
        return tests;
    }

    /** One line of {@link KernelTestMain}'s results as a host test with the kernel's outcome. */
    private static DynamicTest asTest(String group, String line) {
        String[] f = line.split("\t", 5);
        String status = f[0];
        String name = f[1] + "." + f[2];
        String message = f.length > 4 ? f[4].replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\") : "";
        return DynamicTest.dynamicTest(name + " [in kernel " + group + ", " + f[3] + " ms]", () -> {
            switch (status) {
                case "SUCCESSFUL" -> { }
                case "ABORTED" -> throw new TestAbortedException(message);
                default -> throw new AssertionFailedError(name + " failed in the kernel:\n" + message);
            }
        });
    }

    /** Surefire passes the test class path in java.class.path; keep only what exists. */
    private static String testClassPath() {
        List<String> parts = new ArrayList<>();
        for (String s : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!s.isEmpty() && Files.exists(Path.of(s))) {
                parts.add(Path.of(s).toAbsolutePath().toString());
            }
        }
        return String.join(File.pathSeparator, parts);
    }
}
