package io.cowherd.lvm;

import io.cowherd.CowException;
import io.cowherd.OutOfSpaceException;
import io.cowherd.VolumeExistsException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the LVM tools. Reports are always read as {@code --reportformat json} with sizes in bytes
 * ({@code --units b --nosuffix}); human-readable output is never parsed. Without udev
 * ({@code DM_DISABLE_UDEV=1}) LVM creates the device nodes itself.
 */
final class Lvm {
    private static final Logger LOG = LoggerFactory.getLogger(Lvm.class);
    /** The fields of one logical volume that the pool reads. */
    static final String LV_FIELDS = "lv_name,lv_path,lv_attr,lv_size,origin,pool_lv,lv_tags,data_percent,metadata_percent,vg_free,vg_extent_size,vg_tags";

    /**
     * Commands that always run as processes of their own. In one shell, state leaks between
     * activation commands: a second {@code vgchange -ay} of a volume group with a thin pool fails
     * ("activation of ..._tmeta is prohibited", LVM 2.03.16), while {@code lvs}, {@code lvcreate},
     * {@code lvchange} and {@code lvremove} behave as in their own processes. Both are rare
     * (after a reboot, for a merge), so the process start does not matter there.
     */
    private static final java.util.Set<String> IN_OWN_PROCESS = java.util.Set.of("vgchange", "lvconvert");
    private static LvmShell shell;
    private static boolean shellTried;

    private Lvm() {
    }

    /** One row of {@code lvs}: sizes in bytes, percentages as reported (NaN when empty). */
    record Lv(String name, String path, String attr, long size, String origin, String poolLv, List<String> tags,
            double dataPercent, double metadataPercent, long vgFree, long vgExtentSize, List<String> vgTags) {

        /** Whether the LV is a thin pool ({@code t} volume type). */
        boolean isThinPool() {
            return attr.startsWith("t");
        }

        /**
         * Whether a thin pool zeroes a new data block before a partial write lands in it
         * ({@code z}); without it the rest of the block shows whatever the pool held there.
         */
        boolean zeroesNewBlocks() {
            return attr.length() > 7 && attr.charAt(7) == 'z';
        }

        /** Whether the LV is active ({@code a} in the state field). */
        boolean isActive() {
            return attr.length() > 4 && attr.charAt(4) == 'a';
        }

        /** Whether a classic snapshot has overflowed and been invalidated ({@code I}). */
        boolean isInvalidSnapshot() {
            return attr.length() > 4 && attr.charAt(4) == 'I';
        }

        /** The value of tag {@code key=value}, or null. */
        String tag(String key) {
            String prefix = key + "=";
            for (String t : tags) {
                if (t.startsWith(prefix)) {
                    return t.substring(prefix.length());
                }
            }
            return null;
        }
    }

    /** One row of {@code vgs}. */
    record Vg(String name, long extentSize, long free, long size) {
    }

    /** Runs {@code lvm ARGS...}; returns stdout, or throws with stderr in the message. */
    static String run(String... args) {
        return run(Arrays.asList(args));
    }

    /**
     * Runs {@code lvm ARGS...}; returns its output (for reports, the JSON document), or throws
     * with LVM's messages. Through the shared {@link LvmShell} when this host has one, else as
     * a process of its own.
     */
    static String run(List<String> args) {
        LvmShell sh = IN_OWN_PROCESS.contains(args.get(0)) ? null : shell();
        if (sh != null && LvmShell.canPass(args)) {
            try {
                return sh.run(args);
            } catch (IOException e) {
                forget(sh);
                throw LvmShell.died(e);
            }
        }
        return runProcess(args);
    }

    /**
     * The shared shell, started on first use; null when disabled ({@code -Dcowherd.lvm.shell=false})
     * or unavailable. A shell that died is replaced.
     */
    private static synchronized LvmShell shell() {
        if (!Boolean.parseBoolean(System.getProperty("cowherd.lvm.shell", "true"))) {
            return null;
        }
        if (shell != null && !shell.isAlive()) {
            LOG.warn("{} ended; starting another", shell);
            shell = null;
            shellTried = false;
        }
        if (!shellTried) {
            shellTried = true;
            shell = LvmShell.start();
        }
        return shell;
    }

    /** Whether commands go through the shared shell now (starting it if needed). */
    static boolean usingShell() {
        return shell() != null;
    }

    private static synchronized void forget(LvmShell dead) {
        if (shell == dead) {
            dead.close();
            shell = null;
            shellTried = false;
        }
    }

    /** Runs {@code lvm ARGS...} as a process of its own; returns stdout, or throws with stderr in the message. */
    static String runProcess(List<String> args) {
        List<String> cmd = new ArrayList<>(args.size() + 1);
        cmd.add("lvm");
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("LVM_SUPPRESS_FD_WARNINGS", "1");
        pb.environment().put("LC_ALL", "C");
        long t0 = System.nanoTime();
        try {
            Process p = pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
            String out = readAll(p.getInputStream());
            int rc = p.waitFor();
            String stderr = err.join();
            LOG.debug("{} -> {} in {} ms", cmd, rc, (System.nanoTime() - t0) / 1_000_000);
            if (rc != 0) {
                throw classify(cmd, rc, stderr);
            }
            return out;
        } catch (IOException e) {
            throw new CowException("cannot run " + cmd.get(0) + " (apt-get install lvm2): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CowException("interrupted while running " + String.join(" ", cmd), e);
        }
    }

    /** The typed error for a failed command, from what LVM said. */
    static CowException classify(List<String> cmd, int rc, String stderr) {
        LvmCommandException e = new LvmCommandException(cmd, rc, stderr);
        String s = stderr.toLowerCase(java.util.Locale.ROOT);
        if (s.contains("insufficient free space") || s.contains("not enough free") || s.contains("no space left")) {
            return new OutOfSpaceException(e.getMessage(), e);
        }
        if (s.contains("already exists")) {
            return new VolumeExistsException(e.getMessage());
        }
        return e;
    }

    private static String readAll(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** Every LV of volume group {@code vg}. */
    static List<Lv> lvs(String vg) {
        String out = run("lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-a", "-o", LV_FIELDS, vg);
        List<Lv> rows = new ArrayList<>();
        for (Map<String, Object> r : rows(out, "lv")) {
            rows.add(new Lv(str(r, "lv_name"), str(r, "lv_path"), str(r, "lv_attr"), num(r, "lv_size"),
                    str(r, "origin"), str(r, "pool_lv"),
                    tags(str(r, "lv_tags")),
                    pct(r, "data_percent"), pct(r, "metadata_percent"), num(r, "vg_free"), num(r, "vg_extent_size"),
                    tags(str(r, "vg_tags"))));
        }
        return rows;
    }

    private static List<String> tags(String commaSeparated) {
        return commaSeparated.isEmpty() ? List.of() : List.of(commaSeparated.split(","));
    }

    /** The tags of volume group {@code vg}. */
    static List<String> vgTags(String vg) {
        List<Map<String, Object>> rows = rows(run("vgs", "--reportformat", "json", "-o", "vg_tags", vg), "vg");
        return rows.isEmpty() ? List.of() : tags(str(rows.get(0), "vg_tags"));
    }

    /** Volume group {@code vg}, or null if LVM does not know it. */
    static Vg vg(String vg) {
        String out;
        try {
            out = run("vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
                    "vg_name,vg_extent_size,vg_free,vg_size", vg);
        } catch (LvmCommandException e) {
            return null; // "Volume group not found" (exit 5)
        }
        List<Map<String, Object>> rows = rows(out, "vg");
        if (rows.isEmpty()) {
            return null;
        }
        Map<String, Object> r = rows.get(0);
        return new Vg(str(r, "vg_name"), num(r, "vg_extent_size"), num(r, "vg_free"), num(r, "vg_size"));
    }

    /** The entries of the command log that a shell command's document carries. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> logEntries(String json) {
        Object root = Json.parse(json);
        List<Map<String, Object>> rows = new ArrayList<>();
        if (root instanceof Map<?, ?> m && m.get("log") instanceof List<?> list) {
            for (Object o : list) {
                rows.add((Map<String, Object>) o);
            }
        }
        return rows;
    }

    /** The rows of kind {@code kind} ({@code lv}, {@code vg}) in a report. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> rows(String json, String kind) {
        Object root = Json.parse(json);
        List<Map<String, Object>> rows = new ArrayList<>();
        if (!(root instanceof Map<?, ?> m) || !(m.get("report") instanceof List<?> reports)) {
            throw new CowException("LVM report without a 'report' array: " + json);
        }
        for (Object rep : reports) {
            if (rep instanceof Map<?, ?> rm && rm.get(kind) instanceof List<?> list) {
                for (Object o : list) {
                    rows.add((Map<String, Object>) o);
                }
            }
        }
        return rows;
    }

    private static String str(Map<String, Object> r, String key) {
        Object v = r.get(key);
        return v == null ? "" : v.toString().strip();
    }

    private static long num(Map<String, Object> r, String key) {
        String v = str(r, key);
        return v.isEmpty() ? 0 : Long.parseLong(v);
    }

    private static double pct(Map<String, Object> r, String key) {
        String v = str(r, key);
        return v.isEmpty() ? Double.NaN : Double.parseDouble(v);
    }
}
