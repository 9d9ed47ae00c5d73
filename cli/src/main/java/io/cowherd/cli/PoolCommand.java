package io.cowherd.cli;

import io.cowherd.dmsnapshot.CowUsage;
import io.cowherd.dmsnapshot.DmSnapshotBackend;
import io.cowherd.dmsnapshot.DmSnapshotPool;
import io.cowherd.dmsnapshot.LibvirtHook;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cowherd pool activate|deactivate|status|install-hook DIR...}: the devices of dm-snapshot
 * pools (after a reboot, before maintenance) and the libvirt hook that activates them.
 */
@Command(name = "pool", description = "Device-mapper pools: activate, deactivate, status, install-hook.",
        subcommands = {PoolCommand.Activate.class, PoolCommand.Deactivate.class, PoolCommand.Status.class,
            PoolCommand.InstallHook.class})
final class PoolCommand implements Runnable {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "say what to do: activate, deactivate, status or install-hook");
    }

    static DmSnapshotPool open(Path dir) {
        return new DmSnapshotBackend().openPool(dir);
    }

    @Command(name = "activate", description = "Create the devices of every clone the pools record (after a reboot).")
    static final class Activate implements Callable<Integer> {
        @Parameters(paramLabel = "POOL_DIR", arity = "1..*")
        List<Path> pools;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            for (Path dir : pools) {
                try (DmSnapshotPool p = open(dir)) {
                    out.printf("%s: %d clone(s) activated%n", dir, p.activate().size());
                }
            }
            out.flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "deactivate", description = "Remove the devices and loop devices of the pools (files stay).")
    static final class Deactivate implements Callable<Integer> {
        @Parameters(paramLabel = "POOL_DIR", arity = "1..*")
        List<Path> pools;

        @Override
        public Integer call() {
            for (Path dir : pools) {
                try (DmSnapshotPool p = open(dir)) {
                    p.deactivate();
                }
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "status", description = "Fill level of every clone's copy-on-write store.")
    static final class Status implements Callable<Integer> {
        @Parameters(paramLabel = "POOL_DIR")
        Path pool;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (DmSnapshotPool p = open(pool)) {
                out.printf("%-30s %-9s %7s %s%n", "CLONE", "STATE", "FULL", "DEVICE");
                for (CowUsage u : p.usage()) {
                    out.printf("%-30s %-9s %6.1f%% %s%n", u.cloneName(), u.state(), u.percentFull(),
                            p.deviceOf(u.cloneName()));
                }
            }
            out.flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "install-hook", description = "Install the libvirt qemu hook that activates the pool before a VM starts.")
    static final class InstallHook implements Callable<Integer> {
        @Option(names = "--hook", defaultValue = "/etc/libvirt/hooks/qemu", description = "Hook file (default: ${DEFAULT-VALUE}).")
        Path hook;

        @Parameters(paramLabel = "POOL_DIR")
        Path pool;

        @Override
        public Integer call() {
            open(pool).close(); // the pool must exist and be readable
            LibvirtHook.install(hook, pool, LibvirtHook.defaultCommand());
            return ExitCodes.OK;
        }
    }
}
