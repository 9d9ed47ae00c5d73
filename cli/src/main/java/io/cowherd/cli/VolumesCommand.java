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

/** {@code cowherd volumes POOL}: the masters, clones and standalone volumes a pool records. */
@Command(name = "volumes", description = "List the volumes an existing pool records (creates nothing).")
final class VolumesCommand implements Callable<Integer> {
    @Mixin
    PoolOptions poolOptions;

    @Parameters(paramLabel = "POOL", description = "The pool (a directory, /dev/VG or /dev/VG/THINPOOL).")
    Path pool;

    @CommandLine.Mixin
    OutputOption output;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (Pool p = poolOptions.openExisting(pool)) {
            if (output.json()) {
                Json.print(out, PoolOptions.json(p, p.volumes()));
                out.flush();
                return ExitCodes.OK;
            }
            out.printf("%-30s %-10s %-30s %s%n", "NAME", "ROLE", "MASTER", "PATH");
            for (Volume v : p.volumes()) {
                out.printf("%-30s %-10s %-30s %s%n", v.name(), PoolOptions.role(v), v.master() == null ? "-" : v.master(),
                        v.path());
            }
        }
        out.flush();
        return ExitCodes.OK;
    }
}
