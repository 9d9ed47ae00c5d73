package io.cowherd.cli;

import io.cowherd.spi.CheckReport;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cowherd check}: {@code qemu-img check}'s report and exit status (0 clean, 2 corrupt, 3 leaks). */
@Command(name = "check", description = {"Check an image's metadata for corruptions and leaks.",
    "Exit status: 0 clean, 2 corruptions found, 3 only leaked clusters."})
final class CheckCommand implements Callable<Integer> {
    @Option(names = "-f", paramLabel = "FMT", description = "The image's format (detected when omitted).")
    String format;

    @Option(names = "-r", paramLabel = "leaks|all", description = "Repair: 'leaks' frees leaked clusters; 'all' also "
            + "rebuilds refcounts that are too low (images left dirty by lazy refcounts).")
    String repair;

    @picocli.CommandLine.Mixin
    OutputOption output;

    @Parameters(paramLabel = "IMAGE")
    Path image;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (repair != null && !repair.equals("leaks") && !repair.equals("all")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "-r takes 'leaks' or 'all'");
        }
        if (!java.nio.file.Files.exists(image)) {
            throw new io.cowherd.NoSuchVolumeException(image + " does not exist");
        }
        ImageFormat f = Formats.of(spec, image, format);
        CheckReport r = io.cowherd.Images.check(image, f, repair == null ? io.cowherd.Images.Repair.NONE
                : io.cowherd.Images.Repair.valueOf(repair.toUpperCase(java.util.Locale.ROOT)), io.cowherd.Pools.operatorPolicyFor(image));
        PrintWriter out = spec.commandLine().getOut();
        if (output.json()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("image-end-offset", r.imageEndOffset());
            m.put("total-clusters", r.totalUnits());
            m.put("check-errors", 0);
            m.put("corruptions", r.corruptions() - r.corruptionsFixed());
            m.put("corruptions-fixed", r.corruptionsFixed());
            m.put("leaks", r.leaks() - r.leaksFixed());
            m.put("leaks-fixed", r.leaksFixed());
            m.put("allocated-clusters", r.allocatedUnits());
            m.put("filename", image.toString());
            m.put("format", f.name());
            Json.print(out, m);
        } else {
            r.problems().forEach(out::println);
            if (r.leaksFixed() > 0 || r.corruptionsFixed() > 0) {
                out.printf("The following inconsistencies were found and repaired:%n%n    %d leaked clusters%n    %d corruptions%n%n",
                        r.leaksFixed(), r.corruptionsFixed());
            }
            long leaksLeft = r.leaks() - r.leaksFixed();
            long corruptionsLeft = r.corruptions() - r.corruptionsFixed();
            if (corruptionsLeft == 0 && leaksLeft == 0) {
                out.println("No errors were found on the image.");
            } else {
                if (corruptionsLeft > 0) {
                    out.printf("%n%d errors were found on the image.%nData may be corrupted, or further writes to the image "
                            + "may corrupt it.%n", corruptionsLeft);
                }
                if (leaksLeft > 0) {
                    out.printf("%n%d leaked clusters were found on the image.%nThis means waste of disk space, but no harm "
                            + "to data.%n", leaksLeft);
                }
            }
            out.printf("%d/%d = %.2f%% allocated%n", r.allocatedUnits(), r.totalUnits(),
                    r.totalUnits() == 0 ? 0.0 : 100.0 * r.allocatedUnits() / r.totalUnits());
            out.printf("Image end offset: %d%n", r.imageEndOffset());
        }
        out.flush();
        return r.exitCode();
    }
}
