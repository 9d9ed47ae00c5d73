package io.cowherd.cli;

import io.cowherd.Pool;
import io.cowherd.Volume;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cowherd clone}: copy-on-write clones of a master, either named one by one or as
 * {@code --count} clones from a {@code --name-pattern}. Clones live in the master's pool: the
 * master's own directory, or {@code --into DIR}, where the master is imported first.
 */
@Command(name = "clone", description = {"Create copy-on-write clones of a master image.",
    "  cowherd clone MASTER CLONE...",
    "  cowherd clone --count N --name-pattern PATTERN --into DIR MASTER"})
final class CloneCommand implements Callable<Integer> {
    /** Cloning into an LVM pool warns about fill levels at or past this percentage. */
    private static final int LVM_WARN_PERCENT = 80;

    @Mixin
    PoolOptions poolOptions;

    @Option(names = "-f", paramLabel = "FMT", description = "The master's format (detected when omitted).")
    String format;

    @Option(names = "--into", paramLabel = "DIR", description = "Pool directory for the clones (default: the master's directory).")
    Path into;

    @Option(names = "--count", paramLabel = "N", description = "Number of clones to make from --name-pattern.")
    Integer count;

    @Option(names = "--name-pattern", paramLabel = "PATTERN", defaultValue = "clone-%03d",
            description = "printf pattern for clone names, numbered from 1 (default: ${DEFAULT-VALUE}).")
    String namePattern;

    @Parameters(index = "0", paramLabel = "MASTER")
    Path master;

    @Parameters(index = "1..*", paramLabel = "CLONE", description = "Clone names or file names in the pool.")
    List<String> clones = new ArrayList<>();

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        List<String> names = new ArrayList<>();
        if (count != null) {
            if (!clones.isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "give either CLONE names or --count, not both");
            }
            if (count < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--count must be at least 1");
            }
            for (int i = 1; i <= count; i++) {
                names.add(String.format(namePattern, i));
            }
        } else {
            if (clones.isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "name at least one CLONE, or use --count");
            }
            clones.forEach(c -> names.add(PoolOptions.stripExtension(c)));
        }
        Path dir = (into != null ? into : master.toAbsolutePath().getParent()).toAbsolutePath().normalize();
        for (String c : clones) {
            Path parent = Path.of(c).toAbsolutePath().getParent();
            if (c.contains("/") && !parent.normalize().equals(dir)) {
                throw new IllegalArgumentException("clone " + c + " must live in the pool directory " + dir);
            }
        }
        long start = System.nanoTime();
        try (Pool pool = poolOptions.backend().openPool(dir)) {
            Volume m = PoolOptions.masterFor(pool, master, format);
            List<Volume> made = pool.createClones(m.name(), names);
            double ms = (System.nanoTime() - start) / 1e6;
            PrintWriter out = spec.commandLine().getOut();
            for (Volume v : made) {
                out.println(v.path());
            }
            out.flush();
            PrintWriter err = spec.commandLine().getErr();
            err.printf("cowherd: %d clone(s) of %s in %.1f ms%n", made.size(), m.name(), ms);
            err.flush();
            if (pool instanceof io.cowherd.lvm.LvmPool lvm) {
                LvmCommand.warnAboutFill(lvm, LVM_WARN_PERCENT, err);
            }
        }
        return ExitCodes.OK;
    }
}
