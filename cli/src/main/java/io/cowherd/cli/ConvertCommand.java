package io.cowherd.cli;

import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cowherd convert}: flattens an image and its whole chain into one new image. */
@Command(name = "convert", description = "Copy an image with its whole backing chain into one standalone image.")
final class ConvertCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "-f", paramLabel = "FMT", description = "Source format (detected when omitted; state it for untrusted images).")
    String sourceFormat;

    @Option(names = "-O", paramLabel = "FMT", required = true, description = "Output format: raw, qcow2 or vhd.")
    String outputFormat;

    @Option(names = "-o", paramLabel = "OPTIONS", description = "Output format options, as qemu-img: key=value[,key=value...].")
    String options;

    @Option(names = "-c", description = "Compress the output (qcow2).")
    boolean compress;

    @Option(names = "-B", paramLabel = "BACKING", description = "Write only what differs from BACKING, recorded as the output's backing file.")
    Path backing;

    @Option(names = "-F", paramLabel = "FMT", description = "Format of the -B backing file (required with -B).")
    String backingFormat;

    @Option(names = "-p", description = "Show progress (a bar on a terminal, a line per 10%% otherwise).")
    boolean progress;

    @Option(names = "--sync", description = "Wait until the output is on disk before finishing "
            + "(qemu-img convert does not by default, nor does cowherd).")
    boolean sync;

    @Parameters(index = "0", paramLabel = "SRC")
    Path source;

    @Parameters(index = "1", paramLabel = "DST")
    Path target;

    @Override
    public Integer call() {
        if (!java.nio.file.Files.exists(source)) {
            throw new io.cowherd.NoSuchVolumeException(source + " does not exist");
        }
        ImageFormat in = Formats.of(spec, source, sourceFormat);
        ImageFormat out = ImageFormats.byName(outputFormat);
        ImagePolicy policy = ImagePolicy.operator();
        try (VirtualDisk disk = in.open(source, io.cowherd.Pools.operatorPolicyFor(source), false, 0)) {
            if (backing != null) {
                if (options != null && !options.isBlank()) {
                    throw new IllegalArgumentException("-o cannot be combined with -B");
                }
                DiskCopier.copyAgainstBacking(disk, out, target, backing, backingFormat, compress, policy);
            } else if (compress) {
                DiskCopier.copyCompressed(disk, out, parseOptions(options), target, policy);
            } else {
                DiskCopier.copy(disk, out, parseOptions(options), target, policy, sync,
                        ProgressPrinter.of(progress, spec, "convert"));
            }
        } catch (IOException e) {
            throw CowIOException.wrap(source, "reading", e);
        }
        return ExitCodes.OK;
    }

    /** Parses qemu-img's {@code -o key=value,key=value}. */
    static java.util.Map<String, String> parseOptions(String text) {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        if (text == null || text.isBlank()) {
            return m;
        }
        for (String part : text.split(",")) {
            int eq = part.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("-o expects key=value pairs separated by commas, got '" + part + "'");
            }
            m.put(part.substring(0, eq).trim(), part.substring(eq + 1).trim());
        }
        return m;
    }
}
