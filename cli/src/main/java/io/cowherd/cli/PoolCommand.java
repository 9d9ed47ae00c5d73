package io.cowherd.cli;

import io.cowherd.Capability;
import io.cowherd.Fill;
import io.cowherd.FillListener;
import io.cowherd.FillPolicy;
import io.cowherd.Pool;
import io.cowherd.Pools;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.Volume;
import io.cowherd.dmsnapshot.DmSnapshotBackend;
import io.cowherd.dmsnapshot.LibvirtHook;
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
 * {@code cowherd pool VERB POOL ...}: one command set for the lifecycle of a pool of any backend.
 * Every pool names its own backend; each verb needs a capability, and a backend that does not
 * declare it refuses with exit 5. {@code cowherd lvm} is another name for it.
 */
@Command(name = "pool", aliases = "lvm",
        description = {"A pool's lifecycle, any backend (each verb needs the backend's capability):",
            "status, watch, activate, deactivate, flatten, promote, commit (merge), install-hook, libvirt-define."},
        subcommands = {PoolCommand.Status.class, PoolCommand.Watch.class, PoolCommand.Activate.class,
            PoolCommand.Deactivate.class, PoolCommand.Flatten.class, PoolCommand.Promote.class, PoolCommand.Commit.class,
            PoolCommand.InstallHook.class, PoolCommand.LibvirtDefine.class})
final class PoolCommand implements Runnable {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "say what to do: status, watch, activate, "
                + "deactivate, flatten, promote, commit, install-hook or libvirt-define");
    }

    /** The existing pool at {@code location}, with the backend it names; creates nothing. */
    static Pool open(Path location) {
        return Pools.open(location);
    }

    /**
     * Prints a warning line on {@code err} for every fill level of {@code pool} at or past
     * {@code warnPercent}, and every lost clone; grows nothing. Used after cloning, so an operator
     * sees a filling pool before a clone dies of it.
     */
    static void warnAboutFill(Pool pool, int warnPercent, CommandLine.Model.CommandSpec spec) {
        PrintWriter err = spec.commandLine().getErr();
        pool.checkFill(FillPolicy.warnOnly(warnPercent), printer(pool, err, Quiet.asked(spec)));
        err.flush();
    }

    /** Tells {@code err} what a fill check found; with {@code quiet}, growth and losses only. */
    private static FillListener printer(Pool pool, PrintWriter err, boolean quiet) {
        return new FillListener() {
            @Override
            public void warning(Fill f, int threshold) {
                if (quiet) {
                    return;
                }
                err.printf("cowherd: warning: %s: %s of %s is %.1f%% full (warning at %d%%)%s%n", pool.location(),
                        describe(f.kind()), f.volume(), f.percent(), threshold, advice(pool, f));
                err.flush();
            }

            @Override
            public void extended(Fill f, long newSize) {
                err.printf("cowherd: %s: grew %s of %s to %d bytes%n", pool.location(), describe(f.kind()), f.volume(),
                        newSize);
                err.flush();
            }

            @Override
            public void cannotExtend(Fill f, String reason) {
                if (quiet) {
                    return;
                }
                err.printf("cowherd: warning: %s: cannot grow %s of %s: %s%n", pool.location(), describe(f.kind()),
                        f.volume(), reason);
                err.flush();
            }

            @Override
            public void lost(Fill f) {
                err.printf("cowherd: error: %s: clone %s is lost: its copy-on-write store overflowed or failed and the "
                        + "kernel dropped it (its writes are gone); delete it%n", pool.location(), f.volume());
                err.flush();
            }
        };
    }

    private static String describe(Fill.Kind k) {
        return switch (k) {
            case SNAPSHOT_COW -> "the copy-on-write store";
            case THIN_DATA -> "the thin pool's data";
            case THIN_METADATA -> "the thin pool's metadata";
        };
    }

    private static String advice(Pool pool, Fill f) {
        if (f.kind() == Fill.Kind.SNAPSHOT_COW) {
            return "; at 100% the kernel invalidates the clone (cowherd pool watch " + pool.location() + " grows it)";
        }
        return "; when full, writes to every clone stall (cowherd pool watch " + pool.location() + " grows it)";
    }

    @Command(name = "status", description = {"The pool's volumes and, where the backend has fixed-size copy-on-write "
        + "storage, how full it is.", "Exit status 2 while any clone is lost (its snapshot overflowed or failed)."})
    static final class Status implements Callable<Integer> {
        @Parameters(paramLabel = "POOL", description = "A pool directory, /dev/VG or /dev/VG/THINPOOL.")
        Path pool;

        @Option(names = "--warn", paramLabel = "PERCENT", defaultValue = "80",
                description = "Mark fill levels at or past this.")
        int warn;

        @CommandLine.Mixin
        OutputOption output;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (Pool p = open(pool)) {
                List<Fill> fills = p.supports(Capability.FILL) ? p.usage() : List.of();
                List<String> lost = fills.stream().filter(Fill::lost).map(Fill::volume).toList();
                if (output.json()) {
                    java.util.Map<String, Object> json = PoolOptions.json(p, p.volumes());
                    json.put("fills", fills.stream().map(Status::json).toList());
                    json.put("lost", lost);
                    Json.print(out, json);
                    out.flush();
                    return lost.isEmpty() ? ExitCodes.OK : ExitCodes.FAILURE;
                }
                out.printf("pool %s (backend %s)%n", p.location(), p.backend().name());
                out.printf("%-30s %-10s %-30s %s%n", "NAME", "ROLE", "MASTER", "PATH");
                for (Volume v : p.volumes()) {
                    out.printf("%-30s %-10s %-30s %s%n", v.name(), PoolOptions.role(v),
                            v.master() == null ? "-" : v.master(), v.path());
                }
                if (!p.supports(Capability.FILL)) {
                    out.flush();
                    return ExitCodes.OK;
                }
                out.printf("%n%-16s %-30s %-6s %7s %14s%n", "KIND", "VOLUME", "STATE", "FULL", "SIZE");
                for (Fill f : fills) {
                    out.printf("%-16s %-30s %-6s %6.1f%% %14d%s%n", f.kind(), f.volume(), f.lost() ? "LOST" : "ok",
                            f.percent(), f.size(), !f.lost() && f.percent() >= warn ? "  WARNING" : "");
                }
                out.flush();
                if (!lost.isEmpty()) {
                    PrintWriter err = spec.commandLine().getErr();
                    err.printf("cowherd: %d clone(s) of %s lost (%s): their copy-on-write stores overflowed or failed "
                            + "and their writes are gone; delete them%n", lost.size(), p.location(), String.join(", ", lost));
                    err.flush();
                    return ExitCodes.FAILURE;
                }
            }
            return ExitCodes.OK;
        }

        static java.util.Map<String, Object> json(Fill f) {
            java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("kind", f.kind().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
            m.put("volume", f.volume());
            m.put("percent", Math.round(f.percent() * 10) / 10.0);
            m.put("size", f.size());
            m.put("lost", f.lost());
            return m;
        }
    }

    @Command(name = "watch", description = "Check fill levels every interval until stopped: warn, and grow what reaches --extend-at.")
    static final class Watch implements Callable<Integer> {
        @Parameters(paramLabel = "POOL")
        Path pool;

        @Option(names = "--warn", paramLabel = "PERCENT", defaultValue = "80",
                description = "Warn when a fill level reaches this.")
        int warn;

        @Option(names = "--extend-at", paramLabel = "PERCENT", defaultValue = "70",
                description = "Grow a copy-on-write store or the thin pool when it reaches this (101: never).")
        int extendAt;

        @Option(names = "--extend-by", paramLabel = "PERCENT", defaultValue = "20",
                description = "Grow by this share of the current size.")
        int extendBy;

        @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "10",
                description = "Seconds between checks.")
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
            FillPolicy policy = new FillPolicy(warn, extendAt, extendBy);
            try (Pool p = open(pool)) {
                p.require(Capability.FILL);
                if (once) {
                    return p.checkFill(policy, printer(p, err, Quiet.asked(spec))).stream().anyMatch(Fill::lost) ? ExitCodes.FAILURE
                            : ExitCodes.OK;
                }
                Quiet.note(spec, "cowherd: watching %s every %.1f s (warn at %d%%, grow by %d%% at %d%%); Ctrl-C stops%n",
                        p.location(), interval, warn, extendBy, extendAt);
                try (AutoCloseable w = p.watch(Duration.ofMillis((long) (interval * 1000)), policy,
                        printer(p, err, Quiet.asked(spec)))) {
                    new CountDownLatch(1).await(); // until the process is stopped
                }
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "activate", description = "Create the devices of every clone the pools record (after a reboot); lost clones stay down.")
    static final class Activate implements Callable<Integer> {
        @Parameters(paramLabel = "POOL", arity = "1..*")
        List<Path> pools;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            for (Path location : pools) {
                try (Pool p = open(location)) {
                    out.printf("%s: %d clone(s) activated%n", p.location(), p.activate().size());
                }
            }
            out.flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "deactivate", description = "Remove the pools' devices (volumes and records stay).")
    static final class Deactivate implements Callable<Integer> {
        @Parameters(paramLabel = "POOL", arity = "1..*")
        List<Path> pools;

        @Override
        public Integer call() {
            for (Path location : pools) {
                try (Pool p = open(location)) {
                    p.deactivate();
                }
            }
            return ExitCodes.OK;
        }
    }

    /** Shared shape of the verbs that turn clones into something else. */
    abstract static class CloneVerb implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "POOL")
        Path pool;

        @Parameters(index = "1..*", arity = "1..*", paramLabel = "CLONE")
        List<String> clones;

        @Spec
        CommandLine.Model.CommandSpec spec;

        abstract Volume apply(Pool p, String clone);

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (Pool p = open(pool)) {
                for (String c : clones) {
                    Volume v = apply(p, PoolOptions.stripExtension(c));
                    out.printf("%s %s %s%n", v.name(), PoolOptions.role(v), v.path());
                }
            }
            out.flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "flatten", description = "Make clones standalone, writable volumes that no longer need their master.")
    static final class Flatten extends CloneVerb {
        @Override
        Volume apply(Pool p, String clone) {
            return p.flatten(clone);
        }
    }

    @Command(name = "promote", description = "Make clones new read-only masters (same names); their siblings keep their master.")
    static final class Promote extends CloneVerb {
        @Override
        Volume apply(Pool p, String clone) {
            return p.promote(clone);
        }
    }

    @Command(name = "commit", aliases = "merge", description = {"Write a clone into its master; only a master's last "
        + "clone (a master never changes under another clone).", "The clone is gone afterwards; prints the master."})
    static final class Commit extends CloneVerb {
        @Override
        Volume apply(Pool p, String clone) {
            return p.commit(clone);
        }
    }

    @Command(name = "install-hook", description = "Install the libvirt qemu hook that activates a dm-snapshot pool before a VM starts.")
    static final class InstallHook implements Callable<Integer> {
        @Option(names = "--hook", defaultValue = "/etc/libvirt/hooks/qemu", description = "Hook file.")
        Path hook;

        @Parameters(paramLabel = "POOL")
        Path pool;

        @Override
        public Integer call() {
            try (Pool p = open(pool)) {
                p.require(Capability.ACTIVATE);
                if (!p.backend().name().equals(DmSnapshotBackend.NAME)) {
                    throw new UnsupportedFeatureException("the libvirt hook activates dm-snapshot pools; " + p.location()
                            + " is a " + p.backend().name() + " pool, which the system activates at boot itself");
                }
            }
            LibvirtHook.install(hook, pool, LibvirtHook.defaultCommand());
            return ExitCodes.OK;
        }
    }

    @Command(name = "libvirt-define", description = {
        "LVM pools: define (persistent, autostarted) and start a libvirt storage pool showing the volumes;",
        "every later change by cowherd refreshes it. Classic: a logical pool; thin: a dir pool on /dev/VG."})
    static final class LibvirtDefine implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "POOL", description = "/dev/VG or /dev/VG/THINPOOL")
        Path pool;

        @Parameters(index = "1", paramLabel = "NAME", description = "libvirt storage pool name")
        String name;

        @Option(names = {"-c", "--connect"}, paramLabel = "URI", defaultValue = "qemu:///system",
                description = "libvirt connection URI.")
        String uri;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            String owner = Pools.backendAt(pool).map(b -> b.name()).orElse(null);
            if (!LvmBackend.NAME.equals(owner)) {
                throw new UnsupportedFeatureException("libvirt-define shows LVM pools to libvirt; " + pool
                        + (owner == null ? " is no pool" : " is a " + owner + " pool (libvirt's dir pool shows it as is)"));
            }
            try (LvmPool p = new LvmBackend().openPool(pool, LvmSettings.defaults().withLibvirtUri(uri))) {
                p.defineLibvirtPool(name);
                PrintWriter out = spec.commandLine().getOut();
                out.printf("libvirt storage pool %s on %s: %s%n", name, uri, String.join(" ", p.libvirtVolumes()));
                out.flush();
            }
            return ExitCodes.OK;
        }
    }
}
