package io.cowherd.cli;

import io.cowherd.ImagePolicy;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import io.cowherd.spi.OverlayFormat;
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

    @Parameters(paramLabel = "IMAGE")
    Path image;

    @Override
    public Integer call() {
        if (!java.nio.file.Files.exists(image)) {
            throw new io.cowherd.NoSuchVolumeException(image + " does not exist");
        }
        java.util.Optional<io.cowherd.Pools.Recorded> recorded = io.cowherd.Pools.recording(image);
        if (recorded.isPresent()) {
            try (io.cowherd.Pools.Recorded r = recorded.get()) {
                rebaseRecorded(r);
            }
            return ExitCodes.OK;
        }
        ImageFormat f = Formats.of(spec, image, format);
        if (!(f instanceof OverlayFormat overlay)) {
            throw new UnsupportedFeatureException(f.name() + " images have no backing file");
        }
        Path newBacking = null;
        if (!backing.isEmpty()) {
            // Like qemu-img, a relative -b is relative to the overlay's directory.
            newBacking = image.toAbsolutePath().getParent().resolve(backing).normalize();
            if (!java.nio.file.Files.exists(newBacking)) {
                throw new io.cowherd.NoSuchVolumeException("new backing file " + newBacking + " does not exist");
            }
        }
        overlay.rebase(image, newBacking, backingFormat, unsafe, ImagePolicy.operator());
        return ExitCodes.OK;
    }

    /**
     * A volume a pool records: its backing belongs to the pool's record. Dropping a clone's
     * backing ({@code -b ""}, safe) is the pool's flatten; any other rebase would change what the
     * record says, and is refused with the pool's ways out.
     */
    private void rebaseRecorded(io.cowherd.Pools.Recorded r) {
        io.cowherd.Volume v = r.volume();
        if (v.role() == io.cowherd.Volume.Role.CLONE && backing.isEmpty() && !unsafe) {
            r.pool().flatten(v.name());
            return;
        }
        String where = "'" + v.name() + "' is a " + PoolOptions.role(v) + " of pool " + r.pool().location();
        throw new UnsupportedFeatureException(where + ", whose backing belongs to the pool's record: rebasing it is refused; "
                + (v.role() == io.cowherd.Volume.Role.CLONE
                        ? "`cowherd pool flatten` makes it standalone (as rebase -b \"\" does), `cowherd pool promote` a "
                                + "master of its own"
                        : "masters and standalone volumes stand alone; clone it instead"));
    }
}
