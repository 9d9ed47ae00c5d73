package io.cowherd.cli;

import io.cowherd.Pool;
import io.cowherd.Volume;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.bundle.BundleArchive;
import io.cowherd.distribution.bundle.BundleFile;
import io.cowherd.distribution.bundle.Compression;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cowherd bundle create|export|import}: the unit that travels to other hosts. */
@Command(name = "bundle", description = "Make, export and import image bundles (disks, domain XML, NVRAM, manifest).",
        subcommands = {BundleCommand.Create.class, BundleCommand.Export.class, BundleCommand.Import.class})
final class BundleCommand implements Runnable {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a bundle command: create, export or import");
    }

    static void describe(PrintWriter out, Bundle b) {
        for (BundleFile f : b.manifest().files()) {
            out.printf("%-28s %-10s %14d %s%s%n", f.name(), f.role().label(), f.size(), f.sha256(),
                    f.format() == null ? "" : "  " + f.format() + " " + Sizes.human(f.virtualSize()));
        }
    }

    /** {@code cowherd bundle create --into DIR [-f FMT] FILE...}. */
    @Command(name = "create", description = "Copy disk images (and domain XML, NVRAM) into a new bundle directory with a manifest.")
    static final class Create implements Callable<Integer> {
        @Option(names = "--into", required = true, paramLabel = "DIR", description = "The new bundle directory (must not exist).")
        Path into;

        @Option(names = "-f", paramLabel = "FMT", description = "Format of the disk images: raw, qcow2, vhd (detected by "
                + "signature when omitted; a disk with none is taken as raw, with a warning).")
        String format;

        @Option(names = "-p", description = "Show progress (a bar on a terminal, a line per 10%% otherwise).")
        boolean progress;


        @Option(names = "--domain-xml", paramLabel = "FILE", description = "The master's libvirt domain XML.")
        Path domainXml;

        @Option(names = "--nvram", paramLabel = "FILE", description = "The master's NVRAM (UEFI variables) file.")
        Path nvram;

        @Option(names = "--boot-profile", paramLabel = "FILE", description = "The reads a domain made while it booted "
                + "(`cowherd fetch --serve --record-profile`): streamed fetches of the bundle ask for them first.")
        Path bootProfile;

        @Parameters(paramLabel = "DISK", arity = "1..*", description = "Disk images of the master, standalone (no backing file).")
        List<Path> disks;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            Bundle.Builder b = Bundle.builder();
            disks.forEach(d -> b.disk(d, Formats.of(spec, d, format).name()));
            if (domainXml != null) {
                b.domainXml(domainXml);
            }
            if (nvram != null) {
                b.nvram(nvram);
            }
            if (bootProfile != null) {
                b.bootProfile(bootProfile);
            }
            Bundle bundle = b.create(into, ProgressPrinter.of(progress, spec, "copy"));
            PrintWriter out = spec.commandLine().getOut();
            out.println("bundle " + bundle.directory());
            describe(out, bundle);
            out.flush();
            return ExitCodes.OK;
        }
    }

    /** {@code cowherd bundle export BUNDLE_DIR ARCHIVE [--compress zstd|xz|none]}. */
    @Command(name = "export", description = "Write a bundle as one tar archive (optionally zstd or xz) for offline transport.")
    static final class Export implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "BUNDLE_DIR")
        Path bundle;

        @Parameters(index = "1", paramLabel = "ARCHIVE", description = "The archive to write (must not exist).")
        Path archive;

        @Option(names = "--compress", defaultValue = "zstd", paramLabel = "KIND", description = "none, zstd or xz.")
        String compress;

        @Option(names = "-p", description = "Show progress (a bar on a terminal, a line per 10%% otherwise).")
        boolean progress;


        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            Compression c;
            try {
                c = Compression.valueOf(compress.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--compress takes none, zstd or xz, not '" + compress + "'");
            }
            Bundle b = Bundle.open(bundle);
            b.verify(ProgressPrinter.of(progress, spec, "verify"));
            BundleArchive.export(b, archive, c, ProgressPrinter.of(progress, spec, "export"));
            spec.commandLine().getOut().println("archive " + archive.toAbsolutePath());
            spec.commandLine().getOut().flush();
            return ExitCodes.OK;
        }
    }

    /** {@code cowherd bundle import SOURCE [--into DIR] [--pool DIR --name NAME]}. */
    @Command(name = "import", description = "Extract a bundle archive (checking every hash) and/or import a bundle into a pool as a master.")
    static final class Import implements Callable<Integer> {
        @Parameters(paramLabel = "ARCHIVE|BUNDLE_DIR")
        Path source;

        @Option(names = "--into", paramLabel = "DIR", description = "Where to extract an archive (a new directory).")
        Path into;

        @Option(names = "--pool", paramLabel = "DIR", description = "Import the bundle's disks into this pool as read-only masters.")
        Path pool;

        @Option(names = "--name", paramLabel = "NAME", description = "The master's name in the pool (default: the bundle's name).")
        String name;

        @Option(names = "-p", description = "Show progress (a bar on a terminal, a line per 10%% otherwise).")
        boolean progress;


        @Mixin
        PoolOptions poolOptions;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Bundle bundle;
            if (Files.isDirectory(source)) {
                bundle = Bundle.open(source);
            } else {
                if (into == null) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "importing an archive needs --into DIR");
                }
                bundle = BundleArchive.importArchive(source, into, ProgressPrinter.of(progress, spec, "extract"));
                out.println("bundle " + bundle.directory());
            }
            if (pool == null) {
                if (Files.isDirectory(source)) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "importing a bundle directory needs --pool DIR");
                }
                out.flush();
                return ExitCodes.OK;
            }
            String master = name != null ? name : bundle.directory().getFileName().toString();
            try (Pool p = poolOptions.openOrCreate(pool, PoolOptions.DEFAULT_BACKEND)) {
                for (Volume v : bundle.importInto(p, master, ProgressPrinter.of(progress, spec, "verify and import"))) {
                    out.println("master " + v.name() + " " + v.path());
                }
            }
            out.flush();
            return ExitCodes.OK;
        }
    }
}
