package io.cowherd.cli;

import io.cowherd.lvm.Fill;
import io.cowherd.lvm.FillListener;
import io.cowherd.lvm.FillPolicy;
import io.cowherd.lvm.LvmBackend;
import io.cowherd.lvm.LvmPool;
import io.cowherd.lvm.LvmSettings;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cowherd lvm status|watch|activate|merge|libvirt-define POOL}: what only LVM pools
 * ({@code /dev/VG} classic, {@code /dev/VG/THINPOOL} thin) have: fill levels with warnings and
 * extension, activation after a reboot, merging a clone into its master, and the libvirt storage
 * pool that shows the volumes to other tools.
 */
@Command(name = "lvm", description = "LVM pools (/dev/VG, /dev/VG/THINPOOL): status, watch, activate, merge, libvirt-define.",
        subcommands = {LvmCommand.Status.class, LvmCommand.Watch.class, LvmCommand.Activate.class, LvmCommand.Merge.class,
            LvmCommand.LibvirtDefine.class})
final class LvmCommand implements Runnable {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "say what to do: status, watch, activate, merge or libvirt-define");
    }

    static LvmPool open(Path pool) {
        return new LvmBackend().openPool(pool);
    }

    /** Threshold options shared by status and watch. */
    static final class Thresholds {
        @Option(names = "--warn", paramLabel = "PERCENT", defaultValue = "80",
                description = "Warn when a fill level reaches this (default: ${DEFAULT-VALUE}).")
        int warn;

        FillPolicy warnOnly() {
            return new FillPolicy(warn, 101, 1);
        }
    }

    /**
     * Prints a warning line on {@code err} for every fill level of {@code pool} at or past
     * {@code warnPercent}; grows nothing. Used after cloning, so an operator sees a filling pool
     * before a clone dies of it.
     */
    static void warnAboutFill(LvmPool pool, int warnPercent, PrintWriter err) {
        pool.checkFill(new FillPolicy(warnPercent, 101, 1), printer(pool, err));
        err.flush();
    }

    private static FillListener printer(LvmPool pool, PrintWriter err) {
        return new FillListener() {
            @Override
            public void warning(Fill f, int threshold) {
                err.printf("cowherd: warning: %s: %s of %s is %.1f%% full (warning at %d%%)%s%n", pool.location(),
                        describe(f.kind()), f.lv(), f.percent(), threshold, advice(pool, f));
                err.flush();
            }

            @Override
            public void extended(Fill f, long newSize) {
                err.printf("cowherd: %s: grew %s of %s to %d bytes%n", pool.location(), describe(f.kind()), f.lv(), newSize);
                err.flush();
            }

            @Override
            public void cannotExtend(Fill f, String reason) {
                err.printf("cowherd: warning: %s: cannot grow %s of %s: %s%n", pool.location(), describe(f.kind()), f.lv(),
                        reason);
                err.flush();
            }
        };
    }

    private static String describe(Fill.Kind k) {
        return switch (k) {
            case SNAPSHOT_COW -> "the copy-on-write area";
            case THIN_DATA -> "the data";
            case THIN_METADATA -> "the metadata";
        };
    }

    private static String advice(LvmPool pool, Fill f) {
        if (f.kind() == Fill.Kind.SNAPSHOT_COW) {
            return "; at 100% the kernel invalidates the clone (cowherd lvm watch " + pool.location() + " grows it)";
        }
        return "; when full, writes to every clone stall (cowherd lvm watch " + pool.location() + " grows it)";
    }

    @Command(name = "status", description = "Fill levels: each classic clone's copy-on-write area, or the thin pool's data and metadata.")
    static final class Status implements Callable<Integer> {
        @Parameters(paramLabel = "POOL", description = "/dev/VG or /dev/VG/THINPOOL")
        Path pool;

        @CommandLine.Mixin
        Thresholds thresholds;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LvmPool p = open(pool);
            List<Fill> fills = p.usage();
            out.printf("%-16s %-30s %7s %14s%n", "KIND", "LV", "FULL", "SIZE");
            for (Fill f : fills) {
                out.printf("%-16s %-30s %6.1f%% %14d%s%n", f.kind(), f.lv(), f.percent(), f.size(),
                        f.percent() >= thresholds.warn ? "  WARNING" : "");
            }
            p.libvirtPool().ifPresent(n -> out.printf("libvirt storage pool: %s%n", n));
            out.flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "watch", description = "Check fill levels every interval until stopped: warn, and grow what reaches --extend-at.")
    static final class Watch implements Callable<Integer> {
        @Parameters(paramLabel = "POOL", description = "/dev/VG or /dev/VG/THINPOOL")
        Path pool;

        @CommandLine.Mixin
        Thresholds thresholds;

        @Option(names = "--extend-at", paramLabel = "PERCENT", defaultValue = "70",
                description = "Grow a COW area or the thin pool when it reaches this (101: never; default: ${DEFAULT-VALUE}).")
        int extendAt;

        @Option(names = "--extend-by", paramLabel = "PERCENT", defaultValue = "20",
                description = "Grow by this share of the current size (default: ${DEFAULT-VALUE}).")
        int extendBy;

        @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "10",
                description = "Seconds between checks (default: ${DEFAULT-VALUE}).")
        double interval;

        @Option(names = "--once", description = "Check once and exit.")
        boolean once;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (interval <= 0) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--interval must be positive");
            }
            PrintWriter err = spec.commandLine().getErr();
            LvmPool p = open(pool);
            FillPolicy policy = new FillPolicy(thresholds.warn, extendAt, extendBy);
            if (once) {
                p.checkFill(policy, printer(p, err));
                return ExitCodes.OK;
            }
            err.printf("cowherd: watching %s every %.1f s (warn at %d%%, grow by %d%% at %d%%); Ctrl-C stops%n",
                    pool, interval, thresholds.warn, extendBy, extendAt);
            err.flush();
            try (AutoCloseable w = p.watch(Duration.ofMillis((long) (interval * 1000)), policy, printer(p, err))) {
                new CountDownLatch(1).await(); // until the process is stopped
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "activate", description = "Activate every volume of the volume group (after a reboot).")
    static final class Activate implements Callable<Integer> {
        @Parameters(paramLabel = "POOL", arity = "1..*", description = "/dev/VG or /dev/VG/THINPOOL")
        List<Path> pools;

        @Override
        public Integer call() {
            for (Path p : pools) {
                open(p).activateAll();
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "merge", description = "Merge a clone into its master (lvconvert --merge); the clone is gone afterwards.")
    static final class Merge implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "POOL", description = "/dev/VG or /dev/VG/THINPOOL")
        Path pool;

        @Parameters(index = "1", paramLabel = "CLONE")
        String clone;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            out.println(open(pool).mergeIntoMaster(clone).path());
            out.flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "libvirt-define", description = {
        "Define (persistent, autostarted) and start a libvirt storage pool showing the pool's volumes;",
        "every later change by cowherd refreshes it. Classic: a logical pool; thin: a dir pool on /dev/VG."})
    static final class LibvirtDefine implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "POOL", description = "/dev/VG or /dev/VG/THINPOOL")
        Path pool;

        @Parameters(index = "1", paramLabel = "NAME", description = "libvirt storage pool name")
        String name;

        @Option(names = {"-c", "--connect"}, paramLabel = "URI", defaultValue = "qemu:///system",
                description = "libvirt connection URI (default: ${DEFAULT-VALUE}).")
        String uri;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            LvmPool p = new LvmBackend().openPool(pool, LvmSettings.defaults().withLibvirtUri(uri));
            p.defineLibvirtPool(name);
            PrintWriter out = spec.commandLine().getOut();
            out.printf("libvirt storage pool %s on %s: %s%n", name, uri, String.join(" ", p.libvirtVolumes()));
            out.flush();
            return ExitCodes.OK;
        }
    }
}
