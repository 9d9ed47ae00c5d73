package io.cowherd.cli;

import io.cowherd.ImagePolicy;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cowherd resize}: grows an image's virtual size ({@code SIZE} or {@code +SIZE}). */
@Command(name = "resize", description = "Grow an image's virtual size: SIZE or +SIZE (shrinking is refused).")
final class ResizeCommand implements Callable<Integer> {
    @Option(names = "-f", paramLabel = "FMT", description = "The image's format (detected when omitted).")
    String format;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", paramLabel = "SIZE")
    String size;

    @Override
    public Integer call() {
        if (!java.nio.file.Files.exists(image)) {
            throw new io.cowherd.NoSuchVolumeException(image + " does not exist");
        }
        ImageFormat f = format != null ? ImageFormats.byName(format) : ImageFormats.probe(image);
        ImagePolicy policy = ImagePolicy.operator();
        long target;
        if (size.startsWith("+")) {
            target = f.info(image, policy, 0).virtualSize() + Sizes.parse(size.substring(1));
        } else if (size.startsWith("-")) {
            throw new IllegalArgumentException("shrinking is not supported");
        } else {
            target = Sizes.parse(size);
        }
        f.resize(image, target, policy);
        return ExitCodes.OK;
    }
}
