package io.cowherd.cli;

import io.cowherd.Backends;
import io.cowherd.CowBackend;
import io.cowherd.Pool;
import io.cowherd.Volume;
import io.cowherd.spi.ImageFormats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** Options shared by commands that work on a pool, and how a master file becomes a pool master. */
final class PoolOptions {
    @Option(names = "--backend", defaultValue = "qcow2", description = "Clone backend (default: ${DEFAULT-VALUE}; see `cowherd backends`).")
    String backend;

    CowBackend backend() {
        return Backends.byName(backend);
    }

    /**
     * The pool master for {@code masterFile}: the volume already recorded for that file, the file
     * itself adopted when it lies in the pool in the pool's format, or else a flattened import
     * named after the file.
     *
     * @param format the master file's format, or null to detect it (an operator's own file)
     */
    static Volume masterFor(Pool pool, Path masterFile, String format) {
        Path file = masterFile.toAbsolutePath().normalize();
        if (!Files.exists(file)) {
            throw new io.cowherd.NoSuchVolumeException(masterFile + " does not exist");
        }
        Optional<Volume> known = pool.volumes().stream().filter(v -> v.path().equals(file)).findFirst();
        if (known.isPresent()) {
            return known.get();
        }
        String fmt = format != null ? format : ImageFormats.probe(file).name();
        String name = stripExtension(file.getFileName().toString());
        if (pool.location().equals(file.getParent()) && fmt.equals(pool.backend().volumeFormat())) {
            return pool.adoptMaster(name, file);
        }
        return pool.importMaster(name, file, fmt);
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
}
