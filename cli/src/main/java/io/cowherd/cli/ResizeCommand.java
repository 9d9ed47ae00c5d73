package io.cowherd.cli;

import io.cowherd.ImagePolicy;
import io.cowherd.Pools;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.nio.file.Path;
import java.util.Optional;
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
        if (!java.nio.file.Files.exists(image)) {
            throw new io.cowherd.NoSuchVolumeException(image + " does not exist");
        }
        if (size.startsWith("-")) {
            throw new IllegalArgumentException("shrinking is not supported");
        }
        Optional<Pools.Recorded> recorded = Pools.recording(image);
        if (recorded.isPresent()) {
            try (Pools.Recorded r = recorded.get()) {
                String name = r.volume().name();
                r.pool().resize(name, target(r.pool().info(name).virtualSize()));
            }
            return ExitCodes.OK;
        }
        ImageFormat f = Formats.of(spec, image, format);
        ImagePolicy policy = ImagePolicy.operator();
        f.resize(image, target(f.info(image, policy, 0).virtualSize()), policy);
        return ExitCodes.OK;
    }

    private long target(long current) {
        return size.startsWith("+") ? current + Sizes.parse(size.substring(1)) : Sizes.parse(size);
    }
}
