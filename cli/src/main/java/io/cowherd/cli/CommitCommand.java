package io.cowherd.cli;

import io.cowherd.ImagePolicy;
import io.cowherd.Pools;
import io.cowherd.Volume;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cowherd commit}: writes an overlay's changes into its backing image, then empties the
 * overlay (qemu-img's behaviour). A clone a pool records is committed by its pool: only into a
 * master that has no other clone, and the clone is gone afterwards.
 */
@Command(name = "commit", description = {"Write an overlay's changes into its backing image (the overlay is emptied).",
    "A clone a pool records: only when it is its master's last clone; the clone is removed (cowherd pool commit)."})
final class CommitCommand implements Callable<Integer> {
    @Option(names = "-f", paramLabel = "FMT", description = "The overlay's format (detected when omitted).")
    String format;

    @Parameters(paramLabel = "IMAGE")
    Path image;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (!java.nio.file.Files.exists(image)) {
            throw new io.cowherd.NoSuchVolumeException(image + " does not exist");
        }
        Optional<Pools.Recorded> recorded = Pools.recording(image);
        if (recorded.isPresent()) {
            try (Pools.Recorded r = recorded.get()) {
                Volume master = r.pool().commit(r.volume().name());
                PrintWriter err = spec.commandLine().getErr();
                err.printf("cowherd: committed clone '%s' into master '%s' of pool %s; the clone is gone%n",
                        r.volume().name(), master.name(), r.pool().location());
                err.flush();
            }
            return ExitCodes.OK;
        }
        ImageFormat f = Formats.of(spec, image, format);
        ImagePolicy policy = ImagePolicy.operator();
        String backing = f.info(image, policy, 0).fullBackingFilename();
        if (backing != null) {
            PoolOptions.refuseIfMasterWithClones(Path.of(backing), "commit " + image + " into it");
        }
        f.commit(image, policy);
        return ExitCodes.OK;
    }
}
