package io.cowherd.cli;

import io.cowherd.ImagePolicy;
import io.cowherd.Images;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code cowherd resize}: grows an image's virtual size ({@code SIZE} or {@code +SIZE}). A volume
 * a pool records is resized by its pool, which refuses a master that has clones.
 */
@Command(name = "resize", description = {"Grow an image's virtual size: SIZE or +SIZE (shrinking is refused).",
    "A volume a pool records is resized by its pool: a master with clones is refused."})
final class ResizeCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "-f", paramLabel = "FMT", description = "The image's format (detected when omitted).")
    String format;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", paramLabel = "SIZE")
    String size;

    @Override
    public Integer call() {
        if (size.startsWith("-")) {
            throw new IllegalArgumentException("shrinking is not supported");
        }
        Images.resize(image, Formats.unlessRecorded(spec, image, format), this::target, ImagePolicy.operator());
        return ExitCodes.OK;
    }

    private long target(long current) {
        return size.startsWith("+") ? current + Sizes.parse(size.substring(1)) : Sizes.parse(size);
    }
}
