package io.cowherd.lvm;

import io.cowherd.CowException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One long-running {@code lvm} shell that runs commands one after another, the way lvmdbusd
 * drives LVM. Starting a process is most of an LVM command's cost (about 0.1 s on a host, up to
 * 0.5 s in User-mode Linux), and the shell starts once.
 *
 * <p>The protocol is LVM's own for machine consumers: with {@code LVM_REPORT_FD} set, every
 * command writes one JSON document to that descriptor, holding its report (if any) and a command
 * log whose {@code log_context=shell} status entry carries the result. The settings that make
 * LVM do so (JSON output, the command log, bytes without suffix) can only come from a
 * configuration file, so the shell runs under the command profile that lvm2 ships for lvmdbusd
 * ({@code /etc/lvm/profile/lvmdbusd.profile}). Without that profile {@link #start} returns null
 * and callers run one process per command. After a failure, {@code lastlog} gives LVM's error
 * messages (the shell prints none on stderr under that profile).
 */
final class LvmShell implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LvmShell.class);
    private static final String PROFILE = "lvmdbusd";
    /** Arguments the shell's word splitting passes through unchanged: no blanks, quotes or escapes. */
    private static final Pattern PLAIN_ARG = Pattern.compile("[A-Za-z0-9_+=:,./%@-]+");
    /** {@code ECMD_PROCESSED}: LVM's return code for success. */
    private static final String SUCCESS = "1";

    private final Process process;
    private final Writer commands;
    private final BufferedReader reports;

    private LvmShell(Process process) {
        this.process = process;
        this.commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        this.reports = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        Thread drain = new Thread(() -> {
            try (BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = err.readLine()) != null;) {
                    LOG.debug("lvm shell: {}", line.strip());
                }
            } catch (IOException ignored) {
                // the shell is gone
            }
        }, "cowherd-lvm-shell-stderr");
        drain.setDaemon(true);
        drain.start();
    }

    /** Whether lvm2's lvmdbusd command profile is where LVM looks for it. */
    static boolean profileInstalled() {
        String sys = System.getenv().getOrDefault("LVM_SYSTEM_DIR", "/etc/lvm");
        return Files.isRegularFile(Path.of(sys, "profile", PROFILE + ".profile"));
    }

    /** Starts a shell, or returns null if this host's LVM cannot serve one (no profile, no lvm). */
    static LvmShell start() {
        if (!profileInstalled()) {
            LOG.debug("no {} command profile: one lvm process per command", PROFILE);
            return null;
        }
        // fd 3 (LVM_REPORT_FD) becomes our stdout pipe; LVM's ordinary output goes nowhere.
        ProcessBuilder pb = new ProcessBuilder("sh", "-c", "exec 3>&1 >/dev/null; exec lvm");
        pb.environment().put("LVM_REPORT_FD", "3");
        pb.environment().put("LVM_COMMAND_PROFILE", PROFILE);
        pb.environment().put("LVM_SUPPRESS_FD_WARNINGS", "1");
        pb.environment().put("LC_ALL", "C");
        LvmShell shell = null;
        try {
            shell = new LvmShell(pb.start());
            // Proves the protocol before anyone relies on it; a shell that stays silent is not waited for.
            LvmShell probe = shell;
            java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return probe.run(List.of("version"));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).get(30, java.util.concurrent.TimeUnit.SECONDS);
            return shell;
        } catch (IOException | RuntimeException | java.util.concurrent.ExecutionException
                | java.util.concurrent.TimeoutException e) {
            LOG.warn("lvm shell unavailable ({}): one lvm process per command", e.toString());
            if (shell != null) {
                shell.process.destroyForcibly();
            }
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            shell.process.destroyForcibly();
            return null;
        }
    }

    /** Whether every argument passes through the shell's word splitting unchanged. */
    static boolean canPass(List<String> args) {
        return args.stream().allMatch(a -> PLAIN_ARG.matcher(a).matches());
    }

    /** Whether the shell process still runs. */
    boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Runs one command ({@code args} without the leading {@code lvm}) and returns its JSON
     * document; throws the classified error when LVM reports failure.
     *
     * @throws IOException if the shell died or spoke something other than its protocol
     */
    synchronized String run(List<String> args) throws IOException {
        if (!canPass(args)) {
            throw new IllegalArgumentException("argument not passable through the lvm shell: " + args);
        }
        long t0 = System.nanoTime();
        String doc = exchange(String.join(" ", args));
        String rc = shellStatus(doc, args);
        LOG.debug("lvm shell {} -> {} in {} ms", args, rc, (System.nanoTime() - t0) / 1_000_000);
        if (!SUCCESS.equals(rc)) {
            String messages = errorMessages(exchange("lastlog"));
            List<String> cmd = new ArrayList<>(args.size() + 1);
            cmd.add("lvm");
            cmd.addAll(args);
            throw Lvm.classify(cmd, parseCode(rc), messages);
        }
        return doc;
    }

    private String exchange(String line) throws IOException {
        commands.write(line);
        commands.write('\n');
        commands.flush();
        return nextDocument();
    }

    /** Reads one whole top-level JSON object from the report stream. */
    private String nextDocument() throws IOException {
        StringBuilder doc = new StringBuilder();
        int depth = 0;
        boolean inString = false;
        boolean escaped = false;
        boolean started = false;
        for (;;) {
            int c = reports.read();
            if (c < 0) {
                throw new IOException("the lvm shell ended (exit " + exitCodeOrRunning() + ")");
            }
            if (!started) {
                if (Character.isWhitespace(c)) {
                    continue;
                }
                if (c != '{') {
                    throw new IOException("the lvm shell wrote '" + (char) c + "' where a JSON report should start");
                }
                started = true;
            }
            doc.append((char) c);
            if (inString) {
                if (escaped) {
                    escaped = false;
                } else if (c == '\\') {
                    escaped = true;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    return doc.toString();
                }
            }
        }
    }

    private String exitCodeOrRunning() {
        return process.isAlive() ? "still running" : Integer.toString(process.exitValue());
    }

    /** The return code in the command's {@code log_context=shell} status entry. */
    private static String shellStatus(String doc, List<String> args) throws IOException {
        for (Map<String, Object> e : Lvm.logEntries(doc)) {
            if ("shell".equals(e.get("log_context")) && "status".equals(e.get("log_type"))) {
                return String.valueOf(e.get("log_ret_code"));
            }
        }
        throw new IOException("the lvm shell reported no status for " + args + ": " + doc);
    }

    private static String errorMessages(String lastlog) {
        StringBuilder sb = new StringBuilder();
        for (Map<String, Object> e : Lvm.logEntries(lastlog)) {
            if ("error".equals(e.get("log_type")) || "warn".equals(e.get("log_type"))) {
                sb.append(sb.length() == 0 ? "" : "; ").append(e.get("log_message"));
            }
        }
        return sb.length() == 0 ? "(LVM logged no message)" : sb.toString();
    }

    private static int parseCode(String rc) {
        try {
            return Integer.parseInt(rc);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Ends the shell: {@code exit}, then closing its input. */
    @Override
    public synchronized void close() {
        try {
            commands.write("exit\n");
            commands.close();
        } catch (IOException ignored) {
            // already gone
        }
        try {
            if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroy();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroy();
        }
    }

    /** For messages: a short description. */
    @Override
    public String toString() {
        return "lvm shell (pid " + process.pid() + ")";
    }

    static CowException died(IOException e) {
        return new CowException("the lvm shell failed: " + e.getMessage(), e);
    }
}
