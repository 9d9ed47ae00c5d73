package io.cowherd.cli;

import io.cowherd.Pool;
import io.cowherd.Pools;
import io.cowherd.Volume;
import io.cowherd.spi.ImageFormats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * The {@code --backend} option, and how commands find pools: an existing pool names its own
 * backend, so {@code --backend} only chooses the backend of a new pool and is refused when it
 * contradicts an existing one.
 */
final class PoolOptions {
    /** The backend of a new pool when none is named and the master's format does not choose one. */
    static final String DEFAULT_BACKEND = "qcow2";

    @Option(names = "--backend", paramLabel = "NAME",
            description = "Backend of a new pool (default: the master's format if it is vhd, else " + DEFAULT_BACKEND
                    + "; see `cowherd backends`). An existing pool names its own; a different one is refused.")
    String backend;

    /** The existing pool at {@code location}; creates nothing. */
    Pool openExisting(Path location) {
        return Pools.open(location, backend);
    }

    /** The pool at {@code location}, created with the named backend or {@code fallback} when there is none. */
    Pool openOrCreate(Path location, String fallback) {
        return Pools.openOrCreate(location, backend, fallback);
    }

    /**
     * The pool master for {@code masterFile}: the volume already recorded for that file, the file
     * itself adopted when it lies in the pool in the pool's format, or else a flattened import
     * named after the file.
     *
     * @param format the master file's format, or null to detect it (an operator's own file)
     * @param masterName the new master's name, or null for the file's name without its extension
     */
    static Master masterFor(Pool pool, Path masterFile, String format, String masterName,
            picocli.CommandLine.Model.CommandSpec spec, io.cowherd.CopyProgress progress) {
        Path file = masterFile.toAbsolutePath().normalize();
        if (!Files.exists(file)) {
            throw new io.cowherd.NoSuchVolumeException(masterFile + " does not exist");
        }
        Optional<Volume> known = pool.volumeAt(file);
        if (known.isPresent()) {
            return new Master(known.get(), false);
        }
        String fmt = Formats.of(spec, masterFile, format).name();
        String name = masterName != null ? masterName : stripExtension(file.getFileName().toString());
        if (pool.location().equals(file.getParent()) && fmt.equals(pool.backend().volumeFormat())) {
            return new Master(pool.adoptMaster(name, file), false);
        }
        return new Master(pool.importMaster(name, file, fmt, progress), true);
    }

    /**
     * A pool master and whether this command imported it (and so removes it again if the command fails).
     *
     * @param volume the master
     * @param imported whether it was imported just now
     */
    record Master(Volume volume, boolean imported) {
    }

    /** A volume name from a file name or path: the last component without its image extension. */
    static String stripExtension(String name) {
        String n = Path.of(name).getFileName().toString();
        for (String ext : new String[] {".qcow2", ".vhd", ".raw", ".img"}) {
            if (n.endsWith(ext) && n.length() > ext.length()) {
                return n.substring(0, n.length() - ext.length());
            }
        }
        return n;
    }

    /** A volume as {@code --output=json} shows it. */
    static java.util.Map<String, Object> json(Volume v) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("name", v.name());
        m.put("role", role(v));
        m.put("master", v.master());
        m.put("path", v.path().toString());
        m.put("format", v.format());
        return m;
    }

    /** A pool and its volumes as {@code --output=json} shows them. */
    static java.util.Map<String, Object> json(io.cowherd.Pool p, List<Volume> volumes) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("pool", p.location().toString());
        m.put("backend", p.backend().name());
        m.put("volumes", volumes.stream().map(PoolOptions::json).toList());
        return m;
    }

    /** How the command line names a volume's role. */
    static String role(Volume v) {
        return v.role().name().toLowerCase(java.util.Locale.ROOT);
    }
}
