package io.cowherd.cli;

import io.cowherd.Pool;
import io.cowherd.Volume;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cowherd volumes DIR}: the masters and clones a pool records. */
@Command(name = "volumes", description = "List the masters and clones a pool records.")
final class VolumesCommand implements Callable<Integer> {
    @Mixin
    PoolOptions poolOptions;

    @Parameters(paramLabel = "POOL")
    Path pool;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (Pool p = poolOptions.backend().openPool(pool)) {
            out.printf("%-30s %-7s %-30s %s%n", "NAME", "ROLE", "MASTER", "PATH");
            for (Volume v : p.volumes()) {
                out.printf("%-30s %-7s %-30s %s%n", v.name(), v.isMaster() ? "master" : "clone",
                        v.master() == null ? "-" : v.master(), v.path());
            }
        }
        out.flush();
        return ExitCodes.OK;
    }
}
