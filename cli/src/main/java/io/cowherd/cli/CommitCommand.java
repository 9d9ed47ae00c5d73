package io.cowherd.cli;

import io.cowherd.ImagePolicy;
import io.cowherd.Images;
import io.cowherd.Volume;
import io.cowherd.spi.ImageFormat;
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

    @Option(names = "-p", description = "Show progress (a bar on a terminal, a line per 10%% otherwise).")
    boolean progress;

    @Parameters(paramLabel = "IMAGE")
    Path image;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        ImagePolicy policy = ImagePolicy.operator();
        Optional<Volume> master = Images.commit(image, Formats.unlessRecorded(spec, image, format), policy,
                ProgressPrinter.of(progress, spec, "commit"));
        if (master.isPresent()) {
            Quiet.note(spec, "cowherd: committed clone '%s' into master '%s'; the clone is gone%n", image.getFileName(),
                    master.get().name());
        }
        return ExitCodes.OK;
    }
}
