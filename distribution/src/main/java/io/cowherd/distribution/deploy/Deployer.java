package io.cowherd.distribution.deploy;

import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.Images;
import io.cowherd.OutOfSpaceException;
import io.cowherd.Pool;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.bundle.BundleFile;
import io.cowherd.distribution.bundle.FileRole;
import io.cowherd.distribution.deploy.DeployReport.DomainAction;
import io.cowherd.distribution.deploy.DeployReport.DomainStep;
import io.cowherd.distribution.deploy.DeployReport.MasterAction;
import io.cowherd.distribution.deploy.DeployReport.MasterStep;
import io.cowherd.domain.ClonedDomain;
import io.cowherd.domain.DomainCloneOptions;
import io.cowherd.domain.DomainCloner;
import io.cowherd.domain.DomainDisk;
import io.cowherd.domain.DomainXml;
import io.cowherd.domain.LibvirtFailureException;
import io.cowherd.domain.NameTakenException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes one host from a bundle (a verified directory: fetched, extracted or local) to running
 * domains, and on a rerun completes what is missing:
 * <ol>
 * <li>checks every file of the bundle against its manifest;</li>
 * <li>imports the bundle's disks into the pool as masters ({@link Bundle#masterName}), or reuses
 *     the masters of those names when their guest-visible bytes are the bundle's;</li>
 * <li>clones the bundle's domain XML into the deployment's names (index
 *     {@link DeployOptions#firstIndex()} on), each with its identity, defines and starts them: a
 *     name already defined as a clone of the masters is kept (and started if shut off); a name
 *     whose domain was undefined but whose disks are still in the pool is defined again on them.</li>
 * </ol>
 * Everything that could refuse is checked before anything is made: the bundle's integrity, a
 * master name taken by other bytes, a domain name taken by a domain that is not a clone of the
 * masters, a disk volume name taken by something else, and the space the imports need in a
 * directory pool.
 *
 * <pre>{@code
 * try (Pool pool = Pools.open(Path.of("/var/lib/cowherd/web"))) {
 *     Connect conn = DomainCloner.connect("qemu:///system");
 *     DeployReport r = new Deployer(conn, pool).deploy(Bundle.open(Path.of("/srv/bundles/golden")),
 *             DeployOptions.builder().count(10).namePattern("web-%02d")
 *                     .identity(GuestIdentity.builder().hostnamePattern("web-%02d").cloudInit(true).build()).build());
 * }
 * }</pre>
 */
public final class Deployer {
    private static final Logger LOG = LoggerFactory.getLogger(Deployer.class);
    /** What each new clone may take in a directory pool at first: its qcow2 header and tables. */
    private static final long CLONE_BYTES = 1L << 20;

    private final Connect conn;
    private final Pool pool;
    private final String uri;

    /** Deploys into {@code pool}, defining the domains on {@code conn}. */
    public Deployer(Connect conn, Pool pool) {
        this.conn = Objects.requireNonNull(conn, "conn");
        this.pool = Objects.requireNonNull(pool, "pool");
        String u;
        try {
            u = conn.getURI();
        } catch (LibvirtException e) {
            u = null;
        }
        this.uri = u;
    }

    /**
     * Deploys {@code bundle} as {@code options} says (or only plans it, with
     * {@link DeployOptions#dryRun()}).
     *
     * @throws io.cowherd.distribution.bundle.BundleIntegrityException if a file of the bundle
     *     differs from its manifest (nothing made)
     * @throws VolumeExistsException if a master name is taken by other bytes (nothing made)
     * @throws NameTakenException if a domain or disk name is taken by something that is not this
     *     deployment's (nothing made)
     * @throws OutOfSpaceException if a directory pool lacks the room the imports need (nothing made)
     */
    public DeployReport deploy(Bundle bundle, DeployOptions options) {
        String master = options.master() != null ? options.master() : bundle.directory().getFileName().toString();
        BundleFile xmlFile = bundle.manifest().files().stream().filter(f -> f.role() == FileRole.DOMAIN_XML).findFirst()
                .orElseThrow(() -> new CowException("bundle " + bundle.directory() + " has no domain XML to deploy: "
                        + "make the bundle with one (Bundle.Builder.domainXml, `cowherd bundle create --domain-xml`), or "
                        + "import its disks (Bundle.importInto) and clone a domain of your own (DomainCloner)"));
        options.progress().accept("checking bundle " + bundle.directory() + " (" + bundle.manifest().files().size()
                + " files) against its manifest");
        bundle.verify(); // before its XML is read: only bytes the manifest vouches for are parsed
        DomainXml xml = DomainXml.read(bundle.path(xmlFile));
        Map<String, BundleFile> diskOf = disksByTarget(bundle, xml);

        List<BundleFile> disks = bundle.manifest().disks();
        Map<BundleFile, String> masterNames = new LinkedHashMap<>();
        List<MasterStep> masters = new ArrayList<>();
        long importBytes = 0;
        for (int i = 0; i < disks.size(); i++) {
            BundleFile disk = disks.get(i);
            String name = Bundle.masterName(master, i);
            masterNames.put(disk, name);
            Optional<Volume> there = pool.find(name);
            if (there.isEmpty()) {
                masters.add(new MasterStep(disk.name(), name, MasterAction.IMPORT, null));
                importBytes += disk.size();
            } else if (there.get().isMaster() && Images.sameGuestBytes(bundle.path(disk), disk.format(), pool, name)) {
                masters.add(new MasterStep(disk.name(), name, MasterAction.REUSE, there.get().path()));
            } else {
                throw new VolumeExistsException("pool " + pool.location() + " already has a volume named '" + name + "' ("
                        + there.get().path() + ") whose content is not disk " + disk.name() + " of bundle "
                        + bundle.directory() + "; nothing was made: choose another master name (DeployOptions.master)");
            }
        }

        List<Planned> planned = planDomains(xml, diskOf, masterNames, master, options);
        checkSpace(importBytes, planned);
        if (options.dryRun()) {
            return new DeployReport(true, masters, planned.stream().map(Planned::step).map(d -> new DomainStep(d.name(),
                    d.action(), d.uuid(), d.hostname(), options.start() && !d.running(), d.running())).toList());
        }

        List<Volume> imported = new ArrayList<>();
        List<MasterStep> mastersDone = new ArrayList<>();
        for (MasterStep m : masters) {
            if (m.action() == MasterAction.REUSE) {
                mastersDone.add(m);
                continue;
            }
            BundleFile disk = bundle.manifest().file(m.disk()).orElseThrow();
            LOG.info("importing {} of bundle {} into pool {} as master '{}'", disk.name(), bundle.directory(),
                    pool.location(), m.name());
            options.progress().accept("importing " + disk.name() + " as master " + m.name());
            try {
                Volume v = pool.importMaster(m.name(), bundle.path(disk), disk.format());
                imported.add(v);
                mastersDone.add(new MasterStep(m.disk(), m.name(), MasterAction.IMPORT, v.path()));
            } catch (RuntimeException e) {
                deleteImported(imported, e);
                throw e;
            }
        }

        DomainCloner cloner = new DomainCloner(conn, pool);
        List<DomainStep> domains = new ArrayList<>();
        for (Planned p : planned) {
            options.progress().accept(switch (p.step.action()) {
                case CREATE -> "cloning domain " + p.step.name();
                case TAKE_BACK -> "defining domain " + p.step.name() + " again on the disks it left";
                case KEEP -> "domain " + p.step.name() + " is there" + (options.start() && !p.step.running() ? ": starting it" : "");
            });
            try {
                domains.add(p.step.action() == DomainAction.KEEP ? keep(p) : clone(cloner, xml, p, diskOf, masterNames, options));
            } catch (RuntimeException e) {
                if (domains.stream().noneMatch(d -> d.action() != DomainAction.KEEP)) {
                    deleteImported(imported, e);
                }
                throw e;
            }
        }
        return new DeployReport(false, mastersDone, domains);
    }

    /** A domain of the deployment and what is to happen to it. */
    private record Planned(int index, DomainStep step) {
    }

    /**
     * The bundle disk each writable disk of the domain is cloned from: the disk whose file name
     * is the source's file name, else, with as many writable disks as bundle disks, in order.
     */
    private static Map<String, BundleFile> disksByTarget(Bundle bundle, DomainXml xml) {
        List<DomainDisk> writable = xml.disks().stream().filter(DomainDisk::needsClone).toList();
        List<BundleFile> disks = bundle.manifest().disks();
        Map<String, BundleFile> out = new LinkedHashMap<>();
        for (int i = 0; i < writable.size(); i++) {
            DomainDisk d = writable.get(i);
            String file = d.source() == null ? null : Path.of(d.source()).getFileName().toString();
            Optional<BundleFile> byName = disks.stream().filter(b -> b.name().equals(file)).findFirst();
            if (byName.isPresent()) {
                out.put(d.targetDev(), byName.get());
            } else if (writable.size() == disks.size()) {
                out.put(d.targetDev(), disks.get(i));
            } else {
                throw new CowException("bundle " + bundle.directory() + ": its domain XML's disk '" + d.targetDev() + "' ("
                        + d.source() + ") is none of the bundle's disks " + disks.stream().map(BundleFile::name).toList()
                        + ", and the domain has " + writable.size() + " writable disks for " + disks.size()
                        + " bundle disks; make the bundle from the domain's own disk files");
            }
        }
        return out;
    }

    /** What each name of the deployment needs; refuses, before anything is made, names taken by others. */
    private List<Planned> planDomains(DomainXml xml, Map<String, BundleFile> diskOf, Map<BundleFile, String> masterNames,
            String master, DeployOptions options) {
        List<Planned> out = new ArrayList<>();
        Map<String, String> conflicts = new LinkedHashMap<>();
        for (int k = 0; k < options.count(); k++) {
            int index = options.firstIndex() + k;
            String name = options.nameFor(master, index);
            String hostname = options.identity().delivers() ? options.identity().hostnameFor(name, index) : null;
            Domain dom = lookup(name);
            if (dom != null) {
                try {
                    String why = notOurs(name, inactiveXml(dom, name), diskOf, masterNames);
                    if (why != null) {
                        conflicts.put(name, why);
                        continue;
                    }
                    boolean running = isActive(dom, name);
                    out.add(new Planned(index, new DomainStep(name, DomainAction.KEEP, uuid(dom, name), hostname,
                            false, running)));
                } finally {
                    free(dom);
                }
                continue;
            }
            boolean left = false;
            for (Map.Entry<String, BundleFile> e : diskOf.entrySet()) {
                String volume = DomainCloner.diskVolumeName(name, e.getKey());
                Optional<Volume> v = pool.find(volume);
                if (v.isPresent() && (v.get().isMaster() || !masterNames.get(e.getValue()).equals(v.get().master()))) {
                    conflicts.put(name, "pool " + pool.location() + " has a volume named '" + volume + "' that is not a "
                            + "clone of master '" + masterNames.get(e.getValue()) + "'");
                }
                left |= v.isPresent();
            }
            out.add(new Planned(index, new DomainStep(name, left ? DomainAction.TAKE_BACK : DomainAction.CREATE, null,
                    hostname, false, false)));
        }
        if (!conflicts.isEmpty()) {
            throw new NameTakenException(xml.name(), conflicts);
        }
        return out;
    }

    /** Why domain {@code name} is not a clone of this deployment's masters, or null when it is. */
    private String notOurs(String name, DomainXml defined, Map<String, BundleFile> diskOf, Map<BundleFile, String> masterNames) {
        for (Map.Entry<String, BundleFile> e : diskOf.entrySet()) {
            String dev = e.getKey();
            Optional<DomainDisk> disk = defined.disks().stream().filter(d -> dev.equals(d.targetDev())).findFirst();
            Optional<Volume> v = disk.map(DomainDisk::source).flatMap(s -> pool.volumeAt(Path.of(s)));
            String master = masterNames.get(e.getValue());
            if (v.isEmpty() || v.get().isMaster() || !master.equals(v.get().master())) {
                return "domain '" + name + "' is already defined on " + uri + ", but its disk '" + dev + "' ("
                        + disk.map(DomainDisk::source).orElse("none") + ") is not a clone of master '" + master
                        + "' in pool " + pool.location();
            }
        }
        return null;
    }

    /** A directory pool must hold the imports (at most the disks' sizes) and the new clones' headers. */
    private void checkSpace(long importBytes, List<Planned> planned) {
        Path location = pool.location();
        if (!Files.isDirectory(location)) {
            return; // a volume group: the backend's own allocation checks it
        }
        long clones = planned.stream().filter(p -> p.step.action() == DomainAction.CREATE).count();
        long needed = importBytes + clones * CLONE_BYTES;
        if (needed == 0) {
            return;
        }
        try {
            long free = Files.getFileStore(location).getUsableSpace();
            if (free < needed) {
                throw new OutOfSpaceException("pool " + location + " has " + free + " bytes free, but the deployment may "
                        + "need " + needed + " (" + importBytes + " for the masters to import, " + CLONE_BYTES
                        + " for each of " + clones + " new clones); nothing was made", null);
            }
        } catch (IOException e) {
            throw CowIOException.wrap(location, "reading the free space of", e);
        }
    }

    private DomainStep keep(Planned p) {
        DomainStep s = p.step;
        if (!s.running()) {
            Domain dom = lookup(s.name());
            if (dom == null) {
                throw new CowException("domain '" + s.name() + "' went away from " + uri + " while the deployment ran");
            }
            try {
                LOG.info("starting domain '{}', defined by an earlier run", s.name());
                dom.create();
                return new DomainStep(s.name(), s.action(), s.uuid(), s.hostname(), true, true);
            } catch (LibvirtException e) {
                throw LibvirtFailureException.of("starting", s.name(), uri, e);
            } finally {
                free(dom);
            }
        }
        return s;
    }

    private DomainStep clone(DomainCloner cloner, DomainXml xml, Planned p, Map<String, BundleFile> diskOf,
            Map<BundleFile, String> masterNames, DeployOptions options) {
        DomainCloneOptions.Builder b = DomainCloneOptions.builder().count(1).firstIndex(p.index())
                .namePattern(p.step.name().replace("%", "%%")).identity(options.identity()).start(options.start())
                .adoptDisks(true);
        diskOf.forEach((dev, disk) -> b.master(dev, masterNames.get(disk)));
        ClonedDomain made = cloner.cloneXml(xml.toXml(), b.build()).get(0);
        return new DomainStep(made.name(), p.step.action(), made.uuid().toString(), made.hostname(), options.start(),
                options.start());
    }

    private void deleteImported(List<Volume> imported, RuntimeException cause) {
        for (int i = imported.size() - 1; i >= 0; i--) {
            try {
                pool.delete(imported.get(i).name());
            } catch (RuntimeException e) {
                cause.addSuppressed(e);
            }
        }
        imported.clear();
    }

    private Domain lookup(String name) {
        try {
            return conn.domainLookupByName(name);
        } catch (LibvirtException e) {
            return null; // VIR_ERR_NO_DOMAIN; any other fault shows at the next call
        }
    }

    private DomainXml inactiveXml(Domain dom, String name) {
        try {
            return DomainXml.parse(dom.getXMLDesc(2)); // VIR_DOMAIN_XML_INACTIVE
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("reading the XML of", name, uri, e);
        }
    }

    private boolean isActive(Domain dom, String name) {
        try {
            return dom.isActive() == 1;
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("reading the state of", name, uri, e);
        }
    }

    private String uuid(Domain dom, String name) {
        try {
            return dom.getUUIDString();
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("reading the UUID of", name, uri, e);
        }
    }

    private static void free(Domain dom) {
        try {
            dom.free();
        } catch (LibvirtException e) {
            LOG.debug("freeing a domain handle: {}", e.getMessage());
        }
    }
}
