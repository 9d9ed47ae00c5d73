package io.cowherd.cli;

import io.cowherd.Pool;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cowherd delete --pool POOL NAME...}: deletes volumes through their pool; a master with clones is refused. */
@Command(name = "delete", description = "Delete volumes from a pool, with the pool's own backend (a master with clones is refused).")
final class DeleteCommand implements Callable<Integer> {
    @Mixin
    PoolOptions poolOptions;

    @Option(names = "--pool", paramLabel = "POOL", required = true, description = "The pool (a directory, /dev/VG or /dev/VG/THINPOOL).")
    Path pool;

    @Parameters(paramLabel = "NAME", arity = "1..*")
    List<String> names;

    @Override
    public Integer call() {
        try (Pool p = poolOptions.openExisting(pool)) {
            for (String n : names) {
                p.delete(PoolOptions.stripExtension(n));
            }
        }
        return ExitCodes.OK;
    }
}
