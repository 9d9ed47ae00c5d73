package io.cowherd.cli;

import io.cowherd.ImagePolicy;
import io.cowherd.Images;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cowherd rebase}: points an overlay at another backing image, safely unless {@code -u}. */
@Command(name = "rebase", description = {"Change an overlay's backing file.",
    "Safe mode copies in whatever differs between the old and new backing; -u only rewrites the reference.",
    "A clone a pool records can only drop its backing (-b \"\", the pool's flatten)."})
final class RebaseCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "-f", paramLabel = "FMT", description = "The overlay's format (detected when omitted).")
    String format;

    @Option(names = "-b", paramLabel = "BACKING", required = true, description = "New backing file; \"\" for none.")
    String backing;

    @Option(names = "-F", paramLabel = "FMT", description = "The new backing file's format (required with -b FILE).")
    String backingFormat;

    @Option(names = "-u", description = "Unsafe: rewrite the reference without comparing contents.")
    boolean unsafe;

    @Option(names = "-p", description = "Show progress (a bar on a terminal, a line per 10%% otherwise).")
    boolean progress;

    @Parameters(paramLabel = "IMAGE")
    Path image;

    @Override
    public Integer call() {
        // Like qemu-img, a relative -b is relative to the overlay's directory.
        Path newBacking = backing.isEmpty() ? null : image.toAbsolutePath().getParent().resolve(backing).normalize();
        Images.rebase(image, Formats.unlessRecorded(spec, image, format), newBacking, backingFormat, unsafe,
                ImagePolicy.operator(), ProgressPrinter.of(progress, spec, "rebase"));
        return ExitCodes.OK;
    }
}
