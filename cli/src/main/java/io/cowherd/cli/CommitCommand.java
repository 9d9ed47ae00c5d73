package io.cowherd.cli;

import io.cowherd.ImagePolicy;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cowherd commit}: writes an overlay's changes into its backing image, then empties the overlay. */
@Command(name = "commit", description = "Write an overlay's changes into its backing image (the overlay is emptied).")
final class CommitCommand implements Callable<Integer> {
    @Option(names = "-f", paramLabel = "FMT", description = "The overlay's format (detected when omitted).")
    String format;

    @Parameters(paramLabel = "IMAGE")
    Path image;

    @Override
    public Integer call() {
        if (!java.nio.file.Files.exists(image)) {
            throw new io.cowherd.NoSuchVolumeException(image + " does not exist");
        }
        ImageFormat f = format != null ? ImageFormats.byName(format) : ImageFormats.probe(image);
        f.commit(image, ImagePolicy.operator());
        return ExitCodes.OK;
    }
}
