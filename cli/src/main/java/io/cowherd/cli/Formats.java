package io.cowherd.cli;

import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine;

/** The format of an image the user named: as stated with {@code -f}, else detected, and said so when it falls back to raw. */
final class Formats {
    private Formats() {
    }

    /**
     * {@code stated}'s format, or the one {@code file}'s signature shows (a header's magic, or a
     * footer such as a fixed VHD's); when none does, raw, with a warning on the command's stderr.
     */
    static ImageFormat of(CommandLine.Model.CommandSpec spec, Path file, String stated) {
        if (stated != null) {
            return ImageFormats.byName(stated);
        }
        ImageFormat f = ImageFormats.probe(file);
        if (f.name().equals("raw") && !Quiet.asked(spec)) {
            PrintWriter err = spec.commandLine().getErr();
            err.printf("cowherd: warning: %s carries no image format's signature; reading it as raw (give -f raw "
                    + "to say so, or -f FMT if it is something else)%n", file);
            err.flush();
        }
        return f;
    }

    /**
     * The format of {@code file} for the {@link io.cowherd.Images} operations: detected (or as
     * stated) for a file no pool records, null for one a pool records (its pool knows the format,
     * and a missing file is reported by the operation itself).
     */
    static ImageFormat unlessRecorded(CommandLine.Model.CommandSpec spec, Path file, String stated) {
        if (!java.nio.file.Files.exists(file) || io.cowherd.Pools.recording(file).isPresent()) {
            return null;
        }
        return of(spec, file, stated);
    }
}
