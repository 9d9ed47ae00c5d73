package io.cowherd.cli;

import io.cowherd.Capability;
import io.cowherd.Pool;
import io.cowherd.Pools;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeNames;
import io.cowherd.spi.ImageFormats;
import io.cowherd.Volume;
import java.io.PrintWriter;
import java.nio.file.Files;
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
 * {@code --count} clones from a {@code --name-pattern}. Clones live in the master's pool (the
 * master's own directory, or the LVM pool that records it), or in {@code --into DIR}, where the
 * master is imported first.
 */
@Command(name = "clone", description = {"Create copy-on-write clones of a master image.",
    "  cowherd clone MASTER CLONE...",
    "  cowherd clone --count N --name-pattern PATTERN --into POOL MASTER",
    "An existing pool uses its own backend; a refused or failed clone leaves the pool as it was."})
final class CloneCommand implements Callable<Integer> {
    /** Cloning into a pool of fixed-size copy-on-write stores warns about fill levels at or past this percentage. */
    private static final int FILL_WARN_PERCENT = 80;

    @Mixin
    PoolOptions poolOptions;

    @Option(names = "-f", paramLabel = "FMT", description = "The master's format (detected when omitted).")
    String format;

    @Option(names = "--into", paramLabel = "DIR", description = "The pool for the clones (default: the master's pool: its directory, or the LVM pool that records it).")
    Path into;

    @Option(names = "--count", paramLabel = "N", description = "Number of clones to make from --name-pattern.")
    Integer count;

    @Option(names = "--name-pattern", paramLabel = "PATTERN", defaultValue = "clone-%03d",
            description = "printf pattern for clone names, numbered from 1.")
    String namePattern;

    @Option(names = "--cow-percent", paramLabel = "PERCENT", description = {"Make each clone's copy-on-write store "
        + "this share (1-100) of its master (dm-snapshot, classic LVM; default: the pool's, 10%% for dm-snapshot, 25%% "
        + "for LVM). A clone whose store overflows is lost; `cowherd pool watch` grows stores before they do."})
    Integer cowPercent;

    @Option(names = "--name", paramLabel = "NAME", description = {"The master's name in the pool when this command "
        + "imports it (default: MASTER's file name without its extension). Names are one namespace per LVM volume "
        + "group: a classic and a thin pool there need different names for their masters."})
    String masterName;

    @Option(names = "-p", description = "Show the progress of importing the master (a bar on a terminal, a line per 10%% "
            + "otherwise).")
    boolean progress;

    @Parameters(index = "0", paramLabel = "MASTER")
    Path master;

    @Parameters(index = "1..*", paramLabel = "CLONE", description = "Clone names or file names in the pool.")
    List<String> clones = new ArrayList<>();

    @CommandLine.Mixin
    OutputOption output;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        List<String> names = cloneNames();
        // Without --into, the master's own pool: not always its directory (an LVM thin pool's volume is /dev/VG/NAME).
        Path dir = (into != null ? into : Pools.poolLocationOf(master)).toAbsolutePath().normalize();
        for (String c : clones) {
            Path parent = Path.of(c).toAbsolutePath().getParent();
            if (c.contains("/") && !parent.normalize().equals(dir)) {
                throw new IllegalArgumentException("clone " + c + " must live in the pool directory " + dir);
            }
        }
        if (!Files.exists(master)) {
            throw new io.cowherd.NoSuchVolumeException(master + " does not exist");
        }
        if (cowPercent != null && (cowPercent < 1 || cowPercent > 100)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--cow-percent must be 1-100");
        }
        boolean poolExisted = Pools.backendAt(dir).isPresent();
        boolean dirExisted = Files.exists(dir);
        long start = System.nanoTime();
        // The master's format chooses the backend only of a new pool: no probe for an existing one.
        try (Pool pool = poolOptions.openOrCreate(dir, poolExisted ? PoolOptions.DEFAULT_BACKEND : defaultBackend())) {
            checkExtensions(pool);
            for (String n : names) {
                if (pool.find(n).isPresent()) {
                    throw new VolumeExistsException("pool " + pool.location() + " already has a volume named '" + n
                            + "'; choose other names");
                }
            }
            if (cowPercent != null) {
                pool.require(Capability.FILL); // before anything is imported
            }
            PoolOptions.Master m = PoolOptions.masterFor(pool, master, format, masterName, spec,
                    ProgressPrinter.of(progress, spec, "import"));
            List<Volume> made;
            try {
                made = cowPercent == null ? pool.createClones(m.volume().name(), names)
                        : pool.createClones(m.volume().name(), names, cowPercent);
            } catch (RuntimeException e) {
                if (m.imported()) {
                    undoImport(pool, m.volume(), e);
                }
                throw e;
            }
            double ms = (System.nanoTime() - start) / 1e6;
            PrintWriter out = spec.commandLine().getOut();
            if (output.json()) {
                java.util.Map<String, Object> json = PoolOptions.json(pool, made);
                json.put("master", m.volume().name());
                json.put("master-imported", m.imported());
                json.put("milliseconds", Math.round(ms * 10) / 10.0);
                Json.print(out, json);
            } else {
                for (Volume v : made) {
                    out.println(v.path());
                }
            }
            out.flush();
            Quiet.note(spec, "cowherd: %d clone(s) of %s in %.1f ms%n", made.size(), m.volume().name(), ms);
            if (pool.supports(Capability.FILL)) {
                PoolCommand.warnAboutFill(pool, FILL_WARN_PERCENT, spec);
            }
        } catch (RuntimeException e) {
            if (!poolExisted) {
                Pools.removeIfEmpty(dir, !dirExisted);
            }
            throw e;
        }
        return ExitCodes.OK;
    }

    /** The clone names, every one checked before anything is created or imported. */
    private List<String> cloneNames() {
        List<String> names = new ArrayList<>();
        if (count != null) {
            if (!clones.isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "give either CLONE names or --count, not both");
            }
            if (count < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--count must be at least 1");
            }
            for (int i = 1; i <= count; i++) {
                try {
                    names.add(String.format(namePattern, i));
                } catch (java.util.IllegalFormatException e) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "--name-pattern '" + namePattern
                            + "' is not a printf pattern for one number (" + e.getMessage() + "); for example web-%02d");
                }
            }
        } else {
            if (clones.isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "name at least one CLONE, or use --count");
            }
            clones.forEach(c -> names.add(PoolOptions.stripExtension(c)));
        }
        if (masterName != null && !VolumeNames.isValid(masterName)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--name '" + masterName + "' is not a volume "
                    + "name: use 1-" + VolumeNames.MAX_LENGTH + " letters, digits, '.', '_', '+' or '-', starting with a "
                    + "letter or digit");
        }
        for (String n : names) {
            if (!VolumeNames.isValid(n)) {
                throw new CommandLine.ParameterException(spec.commandLine(), (count != null ? "--name-pattern '"
                        + namePattern + "' gives '" + n + "', which" : "clone name '" + n + "'") + " is not a volume name: "
                        + "use 1-" + VolumeNames.MAX_LENGTH + " letters, digits, '.', '_', '+' or '-', starting with a "
                        + "letter or digit");
            }
        }
        if (names.stream().distinct().count() != names.size()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "clone names repeat: " + names
                    + (count != null ? " (put the number into --name-pattern, e.g. web-%02d)" : ""));
        }
        return names;
    }

    /** A clone named with an image file's extension gets that file, or the command says why not. */
    private void checkExtensions(Pool pool) {
        for (String c : clones) {
            String stripped = PoolOptions.stripExtension(c);
            String fileName = Path.of(c).getFileName().toString();
            if (stripped.equals(fileName)) {
                continue;
            }
            String ext = fileName.substring(stripped.length() + 1);
            if (!pool.backend().volumesAreFiles() || !ext.equals(pool.backend().volumeFormat())) {
                throw new CommandLine.ParameterException(spec.commandLine(), "clone '" + c + "' names a ." + ext
                        + " file, but pool " + pool.location() + " keeps " + (pool.backend().volumesAreFiles()
                                ? pool.backend().volumeFormat() + " files" : "block devices") + " (backend "
                        + pool.backend().name() + "); name it " + stripped + (pool.backend().volumesAreFiles() ? " or "
                                + stripped + "." + pool.backend().volumeFormat() : "") + ", or clone into another pool");
            }
        }
    }

    /** A new pool's backend when --backend is not given: vhd for a VHD master, else the default. */
    private String defaultBackend() {
        String f = format != null ? format : ImageFormats.probe(master).name();
        return f.equals("vhd") ? "vhd" : PoolOptions.DEFAULT_BACKEND;
    }

    private static void undoImport(Pool pool, Volume imported, RuntimeException cause) {
        try {
            pool.delete(imported.name());
        } catch (RuntimeException cleanup) {
            cause.addSuppressed(cleanup);
        }
    }
}
