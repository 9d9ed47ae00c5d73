package io.cowherd.cli;

import io.cowherd.CowException;
import io.cowherd.Pool;
import io.cowherd.domain.ClonedDomain;
import io.cowherd.domain.DomainCloneOptions;
import io.cowherd.domain.DomainCloner;
import io.cowherd.domain.DomainDisk;
import io.cowherd.domain.DomainXml;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cowherd domain}: libvirt domains made from clones. */
@Command(name = "domain", description = "Clone libvirt domains onto copy-on-write disks.",
        subcommands = {DomainCommand.Clone.class})
final class DomainCommand implements Runnable {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand: clone");
    }

    /** {@code cowherd domain clone}. */
    @Command(name = "clone", description = {"Define N clones of a domain, each writable disk a linked clone.",
        "  cowherd domain clone --connect URI --domain NAME --count N [--backend NAME] [--start]",
        "  cowherd domain clone --xml FILE --count N --output-dir DIR   (no libvirt: write XML files)"})
    static final class Clone implements Callable<Integer> {
        @Mixin
        PoolOptions poolOptions;

        @Option(names = {"-c", "--connect"}, paramLabel = "URI", description = "libvirt connection URI (default: "
                + "$LIBVIRT_DEFAULT_URI, else libvirt's own default, as virsh does).")
        String connect;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Source source;

        static final class Source {
            @Option(names = "--domain", paramLabel = "NAME", description = "Source domain on the connection.")
            String domain;

            @Option(names = "--xml", paramLabel = "FILE", description = "Source domain XML file.")
            Path xml;
        }

        @Option(names = "--count", paramLabel = "N", defaultValue = "1", description = "Number of clones.")
        int count;

        @Option(names = "--name-pattern", paramLabel = "PATTERN",
                description = "printf pattern for the new names, numbered from --first-index (default: SOURCE-clone-INDEX, "
                        + "e.g. golden-clone-1).")
        String namePattern;

        @Option(names = "--first-index", paramLabel = "N", defaultValue = "1", description = "Index of the first clone.")
        int firstIndex;

        @Option(names = "--skip-taken", description = "Skip names that are taken (a domain, a volume, a file) and "
                + "go on to the next index until --count clones are made.")
        boolean skipTaken;

        @Option(names = "--master", paramLabel = "[DEV=]NAME", description = {"Clone the disk DEV (e.g. vda; without "
            + "DEV=, the only writable disk) from the pool's master NAME instead of the disk's own file. Without it, a "
            + "disk whose file is a master, or has the content of the master it would be imported as, is cloned from "
            + "that master; any other disk file is imported as a new master."})
        List<String> masters = new java.util.ArrayList<>();

        @Option(names = "--nvram-dir", paramLabel = "DIR", description = "Where the clones' NVRAM copies go (default: "
                + "next to the source's NVRAM file).")
        Path nvramDir;

        @CommandLine.Mixin
        OutputOption output;

        @Option(names = "--pool", paramLabel = "DIR", description = "Pool for the disk clones (default: the first disk's directory).")
        Path pool;

        @Option(names = "--start", description = "Start each clone after defining it.")
        boolean start;

        @Option(names = "--output-dir", paramLabel = "DIR", description = "Without --connect: write the clones' XML here.")
        Path outputDir;

        @Mixin
        IdentityOptions identity;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (count < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--count must be at least 1");
            }
            if (outputDir != null && source.xml == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--output-dir writes XML files of a --xml "
                        + "source; a --domain is cloned on its connection");
            }
            if (outputDir != null && connect != null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "give either --connect (define the clones "
                        + "in libvirt) or --output-dir (write their XML), not both");
            }
            DomainCloneOptions options = options();
            PrintWriter out = spec.commandLine().getOut();
            if (outputDir != null) {
                String xml = DomainXml.read(source.xml).toXml();
                try (Pool p = poolOptions.openOrCreate(poolDirectory(xml), PoolOptions.DEFAULT_BACKEND)) {
                    List<ClonedDomain> made = new DomainCloner(null, p).cloneToXmlFiles(xml, options, outputDir);
                    print(out, made, d -> "xml=" + outputDir.resolve(d.name() + ".xml"), false);
                }
                out.flush();
                return ExitCodes.OK;
            }
            String uri = connect != null ? connect : System.getenv("LIBVIRT_DEFAULT_URI");
            Connect conn = DomainCloner.connect(uri);
            String shownUri = uri != null ? uri : "libvirt's default connection";
            try {
                String xml;
                try {
                    // The inactive definition, as cloneDomain itself reads it, to find the pool.
                    xml = source.domain != null
                            ? conn.domainLookupByName(source.domain).getXMLDesc(0)
                            : DomainXml.read(source.xml).toXml();
                } catch (LibvirtException e) {
                    throw new io.cowherd.NoSuchVolumeException("libvirt has no domain '" + source.domain + "' on "
                            + shownUri + " (" + e.getMessage() + "); check the name with `virsh"
                            + (uri != null ? " -c " + uri : "") + " list --all`");
                }
                try (Pool p = poolOptions.openOrCreate(poolDirectory(xml), PoolOptions.DEFAULT_BACKEND)) {
                    DomainCloner cloner = new DomainCloner(conn, p);
                    List<ClonedDomain> made = source.domain != null
                            ? cloner.cloneDomain(source.domain, options)
                            : cloner.cloneXml(xml, options);
                    print(out, made, d -> "state=" + (start ? "running" : "defined"), start);
                }
            } finally {
                conn.close();
            }
            out.flush();
            return ExitCodes.OK;
        }

        private DomainCloneOptions options() {
            DomainCloneOptions.Builder b = DomainCloneOptions.builder().count(count).start(start).firstIndex(firstIndex)
                    .onNameConflict(skipTaken ? DomainCloneOptions.NameConflict.SKIP : DomainCloneOptions.NameConflict.FAIL);
            if (namePattern != null) {
                b.namePattern(namePattern);
            }
            if (nvramDir != null) {
                b.nvramDirectory(nvramDir);
            }
            for (String m : masters) {
                int eq = m.indexOf('=');
                b.master(eq < 0 ? DomainCloneOptions.ONLY_DISK : m.substring(0, eq), m.substring(eq + 1));
            }
            b.identity(identity.identity(spec.commandLine()));
            return b.build();
        }

        /** One line per clone (name, UUID, MACs, disks, then {@code extra}), or one JSON document. */
        private void print(PrintWriter out, List<ClonedDomain> made, java.util.function.Function<ClonedDomain, String> extra,
                boolean started) {
            if (output.json()) {
                Json.print(out, made.stream().map(d -> {
                    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                    m.put("name", d.name());
                    m.put("uuid", d.uuid().toString());
                    m.put("macs", d.macs());
                    m.put("disks", d.disks().stream().map(v -> v.path().toString()).toList());
                    m.put("nvram", d.nvram() == null ? null : d.nvram().toString());
                    m.put("hostname", d.hostname());
                    m.put("started", started);
                    return m;
                }).toList());
                return;
            }
            for (ClonedDomain d : made) {
                out.printf("%s uuid=%s mac=%s disk=%s%s %s%n", d.name(), d.uuid(), String.join(",", d.macs()),
                        String.join(",", d.disks().stream().map(v -> v.path().toString()).toList()),
                        d.hostname() == null ? "" : " hostname=" + d.hostname(), extra.apply(d));
            }
        }

        /** The pool for the disk clones: --pool, or the directory of the first writable disk's file. */
        private Path poolDirectory(String xml) {
            if (pool != null) {
                return pool;
            }
            for (DomainDisk d : DomainXml.parse(xml).disks()) {
                if (d.needsClone() && d.source() != null) {
                    Path file = Path.of(d.source()).toAbsolutePath();
                    if (!java.nio.file.Files.exists(file)) {
                        // Never make a pool in the directory of a disk that is not there.
                        throw new io.cowherd.NoSuchVolumeException("disk '" + d.targetDev() + "' of the domain is "
                                + file + ", which does not exist; fix the domain's disk, or give --pool DIR");
                    }
                    return file.getParent();
                }
            }
            throw new CowException("the domain has no writable file disk to clone; give --pool DIR if it should get one");
        }
    }
}
