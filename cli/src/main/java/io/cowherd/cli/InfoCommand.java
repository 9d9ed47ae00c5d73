package io.cowherd.cli;

import io.cowherd.VolumeInfo;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cowherd info}: what {@code qemu-img info} says, with the same JSON keys. */
@Command(name = "info", description = "Show an image's format, sizes and backing file.")
final class InfoCommand implements Callable<Integer> {
    @Option(names = "-f", paramLabel = "FMT", description = "The image's format (detected when omitted; backing files are never probed).")
    String format;

    @picocli.CommandLine.Mixin
    OutputOption output;

    @Option(names = "--backing-chain", description = "Show every image of the backing chain.")
    boolean backingChain;

    @Parameters(paramLabel = "IMAGE")
    Path image;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (!java.nio.file.Files.exists(image)) {
            throw new io.cowherd.NoSuchVolumeException(image + " does not exist");
        }
        ImageFormat f = Formats.of(spec, image, format);
        VolumeInfo info = f.info(image, io.cowherd.Pools.operatorPolicyFor(image), 0);
        List<VolumeInfo> shown = backingChain ? info.chain() : List.of(info);
        PrintWriter out = spec.commandLine().getOut();
        if (output.json()) {
            Json.print(out, backingChain ? shown.stream().map(InfoCommand::fields).toList() : fields(info));
        } else {
            for (int i = 0; i < shown.size(); i++) {
                if (i > 0) {
                    out.println();
                }
                human(out, shown.get(i));
            }
        }
        out.flush();
        return ExitCodes.OK;
    }

    static Map<String, Object> fields(VolumeInfo i) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("virtual-size", i.virtualSize());
        m.put("filename", i.location());
        if (i.clusterSize() > 0) {
            m.put("cluster-size", i.clusterSize());
        }
        m.put("format", i.format());
        m.put("actual-size", i.actualSize());
        if (i.backingFilename() != null) {
            m.put("full-backing-filename", i.fullBackingFilename());
            m.put("backing-filename", i.backingFilename());
            if (i.backingFormat() != null) {
                m.put("backing-filename-format", i.backingFormat());
            }
        }
        m.put("dirty-flag", false);
        return m;
    }

    private static void human(PrintWriter out, VolumeInfo i) {
        out.println("image: " + i.location());
        out.println("file format: " + i.format());
        out.println("virtual size: " + Sizes.human(i.virtualSize()) + " (" + i.virtualSize() + " bytes)");
        out.println("disk size: " + Sizes.human(i.actualSize()));
        if (i.clusterSize() > 0) {
            out.println("cluster_size: " + i.clusterSize());
        }
        if (i.backingFilename() != null) {
            out.println("backing file: " + i.backingFilename() + " (actual path: " + i.fullBackingFilename() + ")");
            if (i.backingFormat() != null) {
                out.println("backing file format: " + i.backingFormat());
            }
        }
    }
}
