package io.cowherd.cli;

import io.cowherd.CowException;
import io.cowherd.Pool;
import io.cowherd.domain.ClonedDomain;
import io.cowherd.domain.DomainCloneOptions;
import io.cowherd.domain.DomainCloner;
import io.cowherd.domain.DomainDisk;
import io.cowherd.domain.DomainXml;
import io.cowherd.domain.LibvirtFailureException;
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

        @Option(names = {"-c", "--connect"}, paramLabel = "URI", description = "libvirt connection URI (e.g. qemu:///system).")
        String connect;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Source source;

        static final class Source {
            @Option(names = "--domain", paramLabel = "NAME", description = "Source domain on the connection.")
            String domain;

            @Option(names = "--xml", paramLabel = "FILE", description = "Source domain XML file.")
            Path xml;
        }

        @Option(names = "--count", paramLabel = "N", defaultValue = "1", description = "Number of clones (default: ${DEFAULT-VALUE}).")
        int count;

        @Option(names = "--name-pattern", paramLabel = "PATTERN",
                description = "printf pattern for the new names, numbered from 1 (default: SOURCE-clone-%%02d).")
        String namePattern;

        @Option(names = "--pool", paramLabel = "DIR", description = "Pool for the disk clones (default: the first disk's directory).")
        Path pool;

        @Option(names = "--start", description = "Start each clone after defining it.")
        boolean start;

        @Option(names = "--output-dir", paramLabel = "DIR", description = "Without --connect: write the clones' XML here.")
        Path outputDir;

        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (count < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--count must be at least 1");
            }
            if (connect == null && (source.domain != null || outputDir == null)) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--connect is needed, unless --xml FILE is cloned into --output-dir DIR");
            }
            DomainCloneOptions.Builder options = DomainCloneOptions.builder().count(count).start(start);
            if (namePattern != null) {
                options.namePattern(namePattern);
            }
            PrintWriter out = spec.commandLine().getOut();
            if (connect == null) {
                String xml = DomainXml.read(source.xml).toXml();
                try (Pool p = poolOptions.openOrCreate(poolDirectory(xml), PoolOptions.DEFAULT_BACKEND)) {
                    List<ClonedDomain> made = new DomainCloner(null, p).cloneToXmlFiles(xml, options.build(), outputDir);
                    made.forEach(d -> out.println(d.name() + " " + outputDir.resolve(d.name() + ".xml")));
                }
                out.flush();
                return ExitCodes.OK;
            }
            Connect conn = DomainCloner.connect(connect);
            try {
                String xml;
                try {
                    // The inactive definition, as cloneDomain itself reads it, to find the pool.
                    xml = source.domain != null
                            ? conn.domainLookupByName(source.domain).getXMLDesc(0)
                            : DomainXml.read(source.xml).toXml();
                } catch (LibvirtException e) {
                    throw new LibvirtFailureException("libvirt has no domain '" + source.domain + "' on " + connect
                            + ": " + e.getMessage() + "; check the name with `virsh -c " + connect + " list --all`",
                            source.domain, null, e);
                }
                try (Pool p = poolOptions.openOrCreate(poolDirectory(xml), PoolOptions.DEFAULT_BACKEND)) {
                    DomainCloner cloner = new DomainCloner(conn, p);
                    List<ClonedDomain> made = source.domain != null
                            ? cloner.cloneDomain(source.domain, options.build())
                            : cloner.cloneXml(xml, options.build());
                    made.forEach(d -> out.println(d.name() + " " + d.uuid()));
                }
            } finally {
                conn.close();
            }
            out.flush();
            return ExitCodes.OK;
        }

        private Path poolDirectory(String xml) {
            if (pool != null) {
                return pool;
            }
            for (DomainDisk d : DomainXml.parse(xml).disks()) {
                if (d.needsClone() && d.source() != null) {
                    return Path.of(d.source()).toAbsolutePath().getParent();
                }
            }
            throw new CowException("the domain has no writable file disk to clone; give --pool DIR if it should get one");
        }
    }
}
