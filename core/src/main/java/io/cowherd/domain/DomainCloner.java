package io.cowherd.domain;

import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.Pool;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.Library;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Clones a libvirt domain into any number of new domains whose writable disks are linked
 * (copy-on-write) clones made through a cowherd {@link Pool}.
 *
 * <p>Per clone: a name from the {@linkplain DomainCloneOptions#namePattern() pattern}; a new
 * random UUID (also in SMBIOS); new random {@code 52:54:00} MACs unique on the connection;
 * {@code id}, {@code <title>} and NIC {@code <target dev>} dropped; every writable file or block
 * disk replaced by a clone of its master (importing the source file as a master named
 * {@code <source>-<dev>} first when the pool does not hold it yet); read-only, shareable and
 * transient disks, CD-ROMs and floppies shared; NVRAM copied to {@code <name>_VARS.fd}; TPM
 * state not shared; fixed graphics ports made automatic; the guest agent socket path dropped;
 * file serial ports renamed. Then the domain is defined (and optionally started).
 *
 * <p>If a step fails for a clone, everything made for that clone is undone (domain undefined,
 * disk clones deleted, NVRAM copy and XML file removed) and a {@link DomainCloneException} names
 * the clones finished before it, which stay. Checks that need nothing made (names taken, disks
 * that cannot be cloned, a running source) fail before anything is made.
 *
 * <p>Without libvirt ({@code conn == null}) {@link #cloneToXmlFiles} still makes the disk clones
 * and writes the domain XML to files; MACs are then only unique within the run and against the
 * source. Not thread-safe: use one instance per thread.
 */
public class DomainCloner {
    private static final Logger LOG = LoggerFactory.getLogger(DomainCloner.class);
    /** Clone names become file names (volumes, NVRAM) and libvirt names: keep them plain. */
    private static final Pattern NOT_NAME_CHAR = Pattern.compile("[^A-Za-z0-9._+-]");
    /** How far past the wanted count {@link DomainCloneOptions.NameConflict#SKIP} looks for free names. */
    private static final int MAX_SKIPPED_NAMES = 10_000;

    /** VIR_DOMAIN_XML_SECURE: include passwords, so clones keep the source's graphics password. */
    static final int XML_SECURE = 1;
    /** VIR_DOMAIN_XML_INACTIVE: the persistent configuration, not the live state. */
    static final int XML_INACTIVE = 2;
    /** VIR_DOMAIN_UNDEFINE_NVRAM: also remove the NVRAM file (qemu refuses a plain undefine otherwise). */
    static final int UNDEFINE_NVRAM = 4;

    /** The VHD backend's volume format, whose clones need Xen's blktap driver. */
    private static final String VHD = "vhd";

    private static volatile Boolean available;

    private final Connect conn;
    private final Pool pool;
    private final String uri;

    /**
     * @param conn the libvirt connection clones are defined on, or null to only write XML files
     *     ({@link #cloneToXmlFiles})
     * @param pool the pool holding (or receiving) the masters and receiving the disk clones
     */
    public DomainCloner(Connect conn, Pool pool) {
        this.conn = conn;
        this.pool = Objects.requireNonNull(pool, "pool");
        this.uri = conn == null ? null : uriOf(conn);
    }

    /**
     * Whether libvirt can be used in this process: the libvirt-java classes load and the native
     * {@code libvirt.so.0} is found through JNA. Never throws; the answer is cached.
     */
    public static boolean libvirtAvailable() {
        Boolean a = available;
        if (a == null) {
            a = probeLibvirt();
            available = a;
        }
        return a;
    }

    private static boolean probeLibvirt() {
        try {
            long version = Library.getVersion();
            LOG.debug("libvirt {} is available", version);
            return true;
        } catch (LinkageError e) {
            // UnsatisfiedLinkError (no libvirt0), NoClassDefFoundError (no libvirt-java or JNA),
            // ExceptionInInitializerError (native library failed to initialise).
            LOG.debug("libvirt is not usable: {}", e.toString());
            return false;
        } catch (LibvirtException | RuntimeException e) {
            LOG.debug("libvirt is not usable: {}", e.toString());
            return false;
        }
    }

    /**
     * Opens a libvirt connection, for example {@code qemu:///system} or {@code test:///default}.
     *
     * @throws LibvirtFailureException if libvirt refuses
     */
    public static Connect connect(String uri) {
        try {
            quietLibvirt();
            return new Connect(uri);
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of(LibvirtFailureException.OPENING, null, uri, e);
        }
    }

    /** Kept reachable: libvirt calls it from native code. */
    private static org.libvirt.ErrorCallback quiet;

    /**
     * libvirt prints every error to stderr unless a callback takes them; the errors still reach
     * us as {@link LibvirtException}s, which this library reports in its own words.
     */
    private static synchronized void quietLibvirt() throws LibvirtException {
        if (quiet == null) {
            quiet = new org.libvirt.ErrorCallback();
            Connect.setErrorCallback(quiet);
        }
    }

    /** The pool disk clones are made in. */
    public Pool pool() {
        return pool;
    }

    /**
     * Clones the domain called {@code domainName} on the connection, which must be shut off if
     * it has disks to clone, and defines the clones there.
     *
     * @return the clones made, in order
     * @throws LibvirtFailureException if the domain cannot be found or read
     * @throws DomainCloneException if one clone failed (it was rolled back; earlier ones stay)
     */
    public List<ClonedDomain> cloneDomain(String domainName, DomainCloneOptions options) {
        requireConnection("cloneDomain");
        Domain dom;
        try {
            dom = conn.domainLookupByName(domainName);
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("looking up", domainName, uri, e);
        }
        String xml;
        boolean active;
        try {
            try {
                xml = dom.getXMLDesc(XML_SECURE | XML_INACTIVE);
            } catch (LibvirtException e) {
                LOG.debug("secure XML of '{}' refused ({}); cloning without secrets", domainName, e.getMessage());
                xml = dom.getXMLDesc(XML_INACTIVE);
            }
            active = dom.isActive() == 1;
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("reading the XML of", domainName, uri, e);
        } finally {
            free(dom);
        }
        return run(DomainXml.parse(xml), options, null, active);
    }

    /**
     * Clones the domain described by {@code xml} (which need not be defined on the connection)
     * and defines the clones on the connection.
     *
     * @return the clones made, in order
     * @throws DomainCloneException if one clone failed (it was rolled back; earlier ones stay)
     */
    public List<ClonedDomain> cloneXml(String xml, DomainCloneOptions options) {
        requireConnection("cloneXml");
        return run(DomainXml.parse(xml), options, null, false);
    }

    /** Same as {@link #cloneXml(String, DomainCloneOptions)} for an XML file. */
    public List<ClonedDomain> cloneXmlFile(Path xmlFile, DomainCloneOptions options) {
        requireConnection("cloneXmlFile");
        return run(DomainXml.read(xmlFile), options, null, false);
    }

    /**
     * Clones the domain described by {@code xml} without defining anything: the disk clones are
     * made in the pool, NVRAM is copied, and each clone's XML is written to
     * {@code outDir/<name>.xml} (never overwriting), ready for {@code virsh define}. Works with a
     * null connection; with one, names and MACs are also checked against its domains.
     * {@link DomainCloneOptions#start()} is ignored.
     *
     * @return the clones made, in order
     * @throws DomainCloneException if one clone failed (it was rolled back; earlier ones stay)
     */
    public List<ClonedDomain> cloneToXmlFiles(String xml, DomainCloneOptions options, Path outDir) {
        Objects.requireNonNull(outDir, "outDir");
        if (options.start()) {
            LOG.warn("clones written as XML files are not started; define them with `virsh define FILE`");
        }
        return run(DomainXml.parse(xml), options, outDir.toAbsolutePath().normalize(), false);
    }

    // ---------------------------------------------------------------- the run

    /** One writable disk to clone: its target, and the master its clones come from. */
    private record DiskPlan(String targetDev, Path source, String sourceFormat, Volume master, String importName) {
        boolean needsImport() {
            return master == null;
        }

        DiskPlan withMaster(Volume m) {
            return new DiskPlan(targetDev, source, sourceFormat, m, importName);
        }
    }

    /** What the connection already holds. */
    private record Existing(Set<String> names, Set<String> uuids, Set<String> macs) {
    }

    /** What has been made for one clone so far, to undo it on failure. */
    private static final class Made {
        final String name;
        final List<Volume> volumes = new ArrayList<>();
        /** Volumes taken back ({@link DomainCloneOptions#adoptDisks()}): never deleted by a rollback. */
        final List<Volume> adopted = new ArrayList<>();
        Domain domain;
        boolean started;
        Path nvram;
        Path seed;
        Path xmlFile;

        Made(String name) {
            this.name = name;
        }
    }

    private List<ClonedDomain> run(DomainXml source, DomainCloneOptions options, Path outDir, boolean sourceActive) {
        Objects.requireNonNull(options, "options");
        String sourceName = source.name();
        List<DiskPlan> plans = planDisks(source, sourceName, options);
        checkDiskFormatFitsDomain(source, sourceName, plans);
        if (sourceActive && !plans.isEmpty()) {
            throw new CowException("domain '" + sourceName + "' is running; its disks can only be cloned while it is "
                    + "shut off: `virsh shutdown " + sourceName + "`, then clone again");
        }
        seedDirectory(options); // a seed disk with nowhere to go is refused before anything is made
        Existing existing = existing();
        Map<String, Integer> named = chooseNames(source, sourceName, options, existing, plans, outDir);
        List<String> names = List.copyOf(named.keySet());
        warnIfIdentityCannotArrive(source, sourceName, options.identity());

        MacAddressAllocator macs = new MacAddressAllocator();
        macs.reserve(existing.macs());
        macs.reserve(source.macAddresses());
        Set<String> uuids = new HashSet<>(existing.uuids());
        source.uuid().map(u -> u.toLowerCase(Locale.ROOT)).ifPresent(uuids::add);

        List<Volume> imported = new ArrayList<>();
        plans = importMasters(plans, imported);

        LOG.info("cloning domain '{}' into {} ({} disk(s) to clone each, pool {})", sourceName, names,
                plans.size(), pool.location());
        List<ClonedDomain> done = new ArrayList<>();
        for (String name : names) {
            try {
                done.add(cloneOne(source, sourceName, name, named.get(name), options, plans, macs, uuids, outDir,
                        done.isEmpty()));
            } catch (RuntimeException e) {
                String importedNote = "";
                if (done.isEmpty() && !imported.isEmpty()) {
                    deleteImported(imported, e);
                    importedNote = " The master(s) imported for this run were removed again: "
                            + imported.stream().map(Volume::name).toList() + ".";
                }
                String kept = done.isEmpty() ? " No clone was finished."
                        : " Clones finished before it were kept: " + done.stream().map(ClonedDomain::name).toList()
                                + ".";
                throw new DomainCloneException("cloning domain '" + sourceName + "' into '" + name + "' failed: "
                        + e.getMessage() + ". Everything made for '" + name + "' was rolled back." + kept
                        + importedNote, name, done, e);
            }
        }
        return Collections.unmodifiableList(done);
    }

    /**
     * VHD clones are differencing disks, which only Xen's blktap follows (libvirt's libxl driver
     * with {@code <driver name='tap' type='vhd'/>}); QEMU's vpc driver never reads a VHD parent,
     * so a KVM guest would see its clone's unwritten sectors as zeros. Refused before anything
     * is made.
     */
    private void checkDiskFormatFitsDomain(DomainXml source, String sourceName, List<DiskPlan> plans) {
        if (!plans.isEmpty() && VHD.equals(pool.backend().volumeFormat()) && !"xen".equals(source.domainType())) {
            throw new CowException("domain '" + sourceName + "' is a <domain type='" + source.domainType() + "'>, "
                    + "but VHD differencing clones only work under Xen (QEMU cannot follow a VHD parent): use the "
                    + "qcow2 backend for this domain, or a vhd pool for Xen domains");
        }
    }

    /** Decides, before anything is made, which disks are cloned from which master. */
    private List<DiskPlan> planDisks(DomainXml source, String sourceName, DomainCloneOptions options) {
        List<Volume> volumes = pool.volumes();
        List<DiskPlan> plans = new ArrayList<>();
        Map<Path, String> importsByPath = new LinkedHashMap<>();
        long writable = source.disks().stream().filter(DomainDisk::needsClone).count();
        Map<String, String> chosen = new LinkedHashMap<>(options.masters());
        if (chosen.containsKey(DomainCloneOptions.ONLY_DISK)) {
            if (writable != 1) {
                throw new IllegalArgumentException("a master was chosen for the only writable disk, but domain '"
                        + sourceName + "' has " + writable + "; choose one per disk by its target dev");
            }
            String dev = source.disks().stream().filter(DomainDisk::needsClone).findFirst().orElseThrow().targetDev();
            chosen.put(dev, chosen.remove(DomainCloneOptions.ONLY_DISK));
        }
        for (DomainDisk disk : source.disks()) {
            if (!disk.needsClone()) {
                if ("lun".equals(disk.device()) && !disk.readOnly() && !disk.shareable() && !disk.transientDisk()) {
                    throw new CowException("disk '" + disk.targetDev() + "' of domain '" + sourceName + "' is a "
                            + "writable SCSI LUN passed through to the guest; it cannot be cloned and sharing it "
                            + "writable would corrupt it: mark it <shareable/> or <readonly/>, or remove it");
                }
                LOG.debug("disk '{}' ({}, {}) of '{}' is shared by the clones: {}", disk.targetDev(), disk.device(),
                        disk.readOnly() ? "read-only" : disk.shareable() ? "shareable" : "transient", sourceName,
                        disk.source());
                continue;
            }
            String dev = disk.targetDev();
            if (dev.isEmpty()) {
                throw new CowException("a writable disk of domain '" + sourceName + "' has no <target dev>; "
                        + "add one (for example <target dev='vda' bus='virtio'/>)");
            }
            if (!"file".equals(disk.type()) && !"block".equals(disk.type())) {
                throw new CowException("disk '" + dev + "' of domain '" + sourceName + "' is a writable <disk type='"
                        + disk.type() + "'>; only file and block disks can be cloned through a pool: mark it "
                        + "<shareable/> or <readonly/> if sharing it is safe, or remove it from the source domain");
            }
            if (disk.source() == null) {
                throw new CowException("disk '" + dev + "' of domain '" + sourceName + "' has no <source>; "
                        + "give it one or remove it");
            }
            Path path = Path.of(disk.source()).toAbsolutePath().normalize();
            String master = chosen.remove(dev);
            if (master != null) {
                Volume v = pool.find(master).orElseThrow(() -> new io.cowherd.NoSuchVolumeException("no master named '"
                        + master + "' in pool " + pool.location() + " (chosen for disk '" + dev + "')"));
                if (!v.isMaster()) {
                    throw new io.cowherd.UnsupportedFeatureException("'" + master + "' in pool " + pool.location()
                            + " (chosen for disk '" + dev + "') is a " + v.role().name().toLowerCase(Locale.ROOT)
                            + ", not a master");
                }
                plans.add(new DiskPlan(dev, path, v.format(), v, null));
                continue;
            }
            Optional<Volume> known = match(volumes, path);
            if (known.isPresent()) {
                Volume v = known.get();
                if (!v.isMaster()) {
                    throw new CowException("disk '" + dev + "' of domain '" + sourceName + "' is volume '" + v.name()
                            + "', a clone of '" + v.master() + "' in pool " + pool.location() + "; clones cannot "
                            + "be cloned: clone the master, or import this clone as a new master first");
                }
                if (disk.driverType() != null && !disk.driverType().equalsIgnoreCase(v.format())) {
                    LOG.warn("disk '{}' of '{}' says <driver type='{}'> but master '{}' is {}; the clones use the "
                            + "pool's format", dev, sourceName, disk.driverType(), v.name(), v.format());
                }
                plans.add(new DiskPlan(dev, path, v.format(), v, null));
                continue;
            }
            if (disk.driverType() == null) {
                throw new CowException("disk '" + dev + "' of domain '" + sourceName + "' (" + path + ") has no "
                        + "<driver type>, and cowherd never guesses an image format: add the real format to the "
                        + "source domain, for example <driver name='qemu' type='qcow2'/>, then clone again");
            }
            String importName = importsByPath.get(path);
            if (importName == null) {
                importName = NOT_NAME_CHAR.matcher(sourceName + "-" + dev).replaceAll("_");
                Optional<Volume> taken = pool.find(importName);
                if (taken.isPresent()) {
                    Volume t = taken.get();
                    // A later batch from the same golden: its first batch imported this very disk.
                    if (t.isMaster() && io.cowherd.Images.sameGuestBytes(path, disk.driverType(), pool, t.name())) {
                        LOG.info("disk '{}' of '{}' ({}) has the content of master '{}': cloning from it", dev,
                                sourceName, path, t.name());
                        plans.add(new DiskPlan(dev, path, t.format(), t, null));
                        continue;
                    }
                    throw new VolumeExistsException("disk '" + dev + "' of domain '" + sourceName + "' (" + path
                            + ") is not in pool " + pool.location() + ", and the name it would be imported as, '"
                            + importName + "', is taken by " + t.path() + (t.isMaster()
                                    ? ", a master whose content differs from it" : "") + ". Choose the master to clone "
                            + "this disk from (DomainCloneOptions.Builder.master), or delete '" + importName
                            + "' once nothing depends on it");
                }
                importsByPath.put(path, importName);
            }
            plans.add(new DiskPlan(dev, path, disk.driverType(), null, importName));
        }
        if (!chosen.isEmpty()) {
            throw new IllegalArgumentException("masters were chosen for disks that domain '" + sourceName
                    + "' has no writable disk for: " + chosen.keySet());
        }
        return plans;
    }

    /** The pool volume whose file is {@code path}, by normalized path, then by file identity. */
    private static Optional<Volume> match(List<Volume> volumes, Path path) {
        for (Volume v : volumes) {
            if (v.path().toAbsolutePath().normalize().equals(path)) {
                return Optional.of(v);
            }
        }
        if (Files.exists(path)) {
            for (Volume v : volumes) {
                try {
                    if (Files.exists(v.path()) && Files.isSameFile(v.path(), path)) {
                        return Optional.of(v);
                    }
                } catch (IOException e) {
                    LOG.debug("cannot compare {} with {}: {}", path, v.path(), e.toString());
                }
            }
        }
        return Optional.empty();
    }

    /** Names, UUIDs and MACs of every domain on the connection (nothing without one). */
    private Existing existing() {
        Set<String> names = new HashSet<>();
        Set<String> uuids = new HashSet<>();
        Set<String> macs = new HashSet<>();
        if (conn == null) {
            return new Existing(names, uuids, macs);
        }
        Domain[] all;
        try {
            all = conn.listAllDomains(0);
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("listing the domains", null, uri, e);
        }
        for (Domain d : all) {
            String name = null;
            try {
                name = d.getName();
                names.add(name);
                uuids.add(d.getUUIDString().toLowerCase(Locale.ROOT));
                macs.addAll(DomainXml.parse(d.getXMLDesc(0)).macAddresses());
                if (d.isActive() == 1) {
                    macs.addAll(DomainXml.parse(d.getXMLDesc(XML_INACTIVE)).macAddresses());
                }
            } catch (LibvirtException e) {
                LibvirtFailureException f = LibvirtFailureException.of("reading", name, uri, e);
                if (!"VIR_ERR_NO_DOMAIN".equals(f.errorCode())) {
                    throw f;
                }
                LOG.debug("domain '{}' vanished while listing: {}", name, e.getMessage());
            } finally {
                free(d);
            }
        }
        return new Existing(names, uuids, macs);
    }

    /** The clone names with their indexes, in order, checked against everything they would collide with. */
    private Map<String, Integer> chooseNames(DomainXml source, String sourceName, DomainCloneOptions options,
            Existing existing, List<DiskPlan> plans, Path outDir) {
        Map<String, Integer> names = new LinkedHashMap<>();
        Map<String, String> conflicts = new LinkedHashMap<>();
        boolean skip = options.onNameConflict() == DomainCloneOptions.NameConflict.SKIP;
        long lastIndex = (long) options.firstIndex() + options.count() - 1 + (skip ? MAX_SKIPPED_NAMES : 0);
        for (long i = options.firstIndex(); names.size() < options.count(); i++) {
            if (i > lastIndex || i > Integer.MAX_VALUE) {
                throw new CowException("no free clone name found for domain '" + sourceName + "' between index "
                        + options.firstIndex() + " and " + lastIndex + "; choose another name pattern");
            }
            String name = options.nameFor(sourceName, (int) i);
            io.cowherd.VolumeNames.check(name);
            if (options.identity().delivers()) {
                options.identity().hostnameFor(name, (int) i); // a bad hostname is refused before anything is made
            }
            if (names.containsKey(name) || conflicts.containsKey(name)) {
                throw new IllegalArgumentException("name pattern gives '" + name + "' to two clones; put the index "
                        + "in the pattern, for example 'web-%02d'");
            }
            Optional<String> why = conflict(name, source, sourceName, options, existing, plans, outDir);
            if (why.isPresent()) {
                if (skip) {
                    LOG.info("skipping clone name '{}': {}", name, why.get());
                    continue;
                }
                conflicts.put(name, why.get());
            }
            names.put(name, (int) i);
        }
        if (!conflicts.isEmpty()) {
            throw new NameTakenException(sourceName, conflicts);
        }
        return names;
    }

    /**
     * Identity travels in SMBIOS tables, which only a hardware-virtualized guest has (x86 and
     * AArch64 with firmware); a Xen PV guest ({@code <os><type>xen</type>}) or a domain with no
     * {@code <os>} never sees it. Said once per batch; the clones are still made.
     */
    private static void warnIfIdentityCannotArrive(DomainXml source, String sourceName, GuestIdentity identity) {
        if (identity.delivers() && !"hvm".equals(source.osType().orElse(""))) {
            LOG.warn("domain '{}' has os type '{}', without SMBIOS: the clones' hostname{}{} cannot reach their guests, "
                    + "which boot as twins of the master unless it was sealed and configures itself otherwise", sourceName,
                    source.osType().orElse("(none)"), identity.cloudInit() ? ", cloud-init data" : "",
                    identity.credentials().isEmpty() ? "" : " and credentials");
        }
    }

    private Optional<String> conflict(String name, DomainXml source, String sourceName, DomainCloneOptions options,
            Existing existing, List<DiskPlan> plans, Path outDir) {
        if (name.equals(sourceName)) {
            return Optional.of("'" + name + "' is the source domain's own name");
        }
        if (existing.names().contains(name)) {
            return Optional.of("domain '" + name + "' is already defined on " + uri + " (`virsh undefine " + name
                    + "` if it is stale)");
        }
        if (outDir != null && Files.exists(xmlFileFor(outDir, name))) {
            return Optional.of(xmlFileFor(outDir, name) + " already exists");
        }
        for (DiskPlan p : plans) {
            String volume = volumeName(name, p);
            Optional<Volume> taken = pool.find(volume);
            if (taken.isPresent() && !(options.adoptDisks() && adoptable(taken.get(), p))) {
                return Optional.of("pool " + pool.location() + " already has a volume named '" + volume + "'"
                        + (options.adoptDisks() ? ", which is not a clone of master '" + masterName(p) + "'" : ""));
            }
        }
        Path seedDir = seedDirectory(options);
        if (seedDir != null && Files.exists(NoCloudSeed.imageFor(seedDir, name)) && !options.adoptDisks()) {
            return Optional.of("seed image " + NoCloudSeed.imageFor(seedDir, name) + " already exists");
        }
        Path nvram = nvramTarget(source, name, options);
        if (nvram != null && Files.exists(nvram) && !options.adoptDisks()) {
            return Optional.of("NVRAM file " + nvram + " already exists");
        }
        return Optional.empty();
    }

    /**
     * Where the clones' NoCloud seed images go: the seed's own directory, else {@code .seeds} in a
     * directory pool; null without a seed disk.
     *
     * @throws IllegalArgumentException if a seed disk is asked for in a pool that is not a
     *     directory and no directory is given
     */
    private Path seedDirectory(DomainCloneOptions options) {
        Optional<NoCloudSeed> seed = options.identity().seedDisk();
        if (seed.isEmpty()) {
            return null;
        }
        if (seed.get().directory() != null) {
            return seed.get().directory();
        }
        if (!pool.backend().volumesAreFiles() || !Files.isDirectory(pool.location())) {
            throw new IllegalArgumentException("pool " + pool.location() + " is not a directory: say where the clones' "
                    + "seed images go (NoCloudSeed.Builder.directory)");
        }
        return pool.location().resolve(".seeds");
    }

    /** Whether {@code volume}, left by an undefined clone, can be the disk cloned from {@code p}'s master. */
    private static boolean adoptable(Volume volume, DiskPlan p) {
        return !volume.isMaster() && p.master() != null && p.master().name().equals(volume.master());
    }

    private static String masterName(DiskPlan p) {
        return p.master() != null ? p.master().name() : p.importName();
    }

    /** Imports the masters the plan needs; on failure removes the ones imported so far. */
    private List<DiskPlan> importMasters(List<DiskPlan> plans, List<Volume> imported) {
        Map<String, Volume> byName = new LinkedHashMap<>();
        List<DiskPlan> resolved = new ArrayList<>();
        try {
            for (DiskPlan p : plans) {
                if (!p.needsImport()) {
                    resolved.add(p);
                    continue;
                }
                Volume master = byName.get(p.importName());
                if (master == null) {
                    LOG.info("importing {} ({}) into pool {} as master '{}'", p.source(), p.sourceFormat(),
                            pool.location(), p.importName());
                    master = pool.importMaster(p.importName(), p.source(), p.sourceFormat());
                    byName.put(p.importName(), master);
                    imported.add(master);
                }
                resolved.add(p.withMaster(master));
            }
        } catch (RuntimeException e) {
            deleteImported(imported, e);
            throw e;
        }
        return resolved;
    }

    private void deleteImported(List<Volume> imported, RuntimeException cause) {
        for (Volume v : imported) {
            try {
                pool.delete(v.name());
                LOG.info("removed master '{}' imported for the failed run", v.name());
            } catch (RuntimeException e) {
                LOG.warn("could not remove imported master '{}': {}", v.name(), e.toString());
                cause.addSuppressed(e);
            }
        }
    }

    private ClonedDomain cloneOne(DomainXml source, String sourceName, String name, int index, DomainCloneOptions options,
            List<DiskPlan> plans, MacAddressAllocator macs, Set<String> uuids, Path outDir, boolean first) {
        Made made = new Made(name);
        try {
            DomainXml xml = source.copy();
            xml.setName(name);
            UUID uuid = newUuid(uuids);
            xml.setUuid(uuid);
            xml.clearIdAndTitle();
            GuestIdentity identity = options.identity();
            String hostname = null;
            if (identity.delivers()) {
                hostname = identity.hostnameFor(name, index);
                // The instance id is the clone's UUID: new for every clone, so cloud-init runs afresh.
                xml.setSmbiosIdentity(identity.cloudInit() ? GuestIdentity.noCloudSerial(uuid, hostname) : null,
                        identity.credentialsFor(hostname));
            }
            List<String> newMacs = xml.replaceMacAddresses(macs::allocate);
            xml.dropInterfaceTargets();
            int graphics = xml.makeGraphicsAutoport();
            if (graphics > 0 && first) {
                LOG.info("'{}' has {} graphics device(s) with a fixed port; the clones use automatic ports",
                        sourceName, graphics);
            }
            if (xml.dropAgentSocketPaths() > 0) {
                LOG.debug("{}: guest agent socket path dropped; libvirt generates one per domain", name);
            }
            xml.renameSerialFiles(sourceName, name);
            if (xml.dropTpmState() > 0) {
                if (first) {
                    LOG.info("'{}' has an emulated TPM; its state is not shared: libvirt creates fresh TPM state "
                            + "for each clone's UUID", sourceName);
                }
                LOG.debug("{}: fresh TPM state for UUID {}", name, uuid);
            }
            Path nvram = nvramTarget(source, name, options);
            if (nvram != null) {
                if (options.adoptDisks() && Files.exists(nvram)) {
                    LOG.info("{}: taking back NVRAM file {}", name, nvram);
                } else {
                    copyNvram(Path.of(source.nvramPath().orElseThrow()), nvram, made);
                }
                xml.setNvramPath(nvram.toString());
            }
            for (DiskPlan p : plans) {
                Optional<Volume> left = options.adoptDisks() ? pool.find(volumeName(name, p)) : Optional.empty();
                Volume clone;
                if (left.isPresent() && adoptable(left.get(), p)) {
                    clone = left.get();
                    made.adopted.add(clone);
                    LOG.info("{}: taking back disk volume '{}' (a clone of '{}' left by an undefined domain)", name,
                            clone.name(), p.master().name());
                } else {
                    clone = pool.createClone(p.master().name(), volumeName(name, p));
                }
                made.volumes.add(clone);
                xml.replaceDiskSource(p.targetDev(), clone.path().toString(), pool.backend().volumeFormat(),
                        pool.backend().volumesAreFiles());
                if (VHD.equals(pool.backend().volumeFormat())) {
                    // libxl opens VHD chains through blktap: <driver name='tap' type='vhd'/>.
                    xml.setDiskDriverName(p.targetDev(), "tap");
                }
            }
            Path seedDir = seedDirectory(options);
            if (seedDir != null) {
                Path image = NoCloudSeed.imageFor(seedDir, name);
                if (options.adoptDisks()) {
                    try {
                        Files.deleteIfExists(image); // the seed of the undefined clone: made again for the new UUID
                    } catch (IOException e) {
                        throw CowIOException.wrap(image, "replacing the seed image", e);
                    }
                }
                identity.seedDisk().get().write(image, name, index, hostname, uuid);
                made.seed = image;
                xml.addReadOnlyDisk(image);
            }
            String text = xml.toXml();
            LOG.debug("XML of clone '{}':\n{}", name, text);
            if (outDir != null) {
                writeXmlFile(outDir, name, text, made);
            } else {
                define(name, text, options.start(), made);
            }
            LOG.info("cloned '{}' into '{}' (uuid {}, disks {}{})", sourceName, name, uuid,
                    made.volumes.stream().map(Volume::name).toList(), made.started ? ", started" : "");
            free(made.domain);
            made.domain = null;
            return new ClonedDomain(name, uuid, newMacs, made.volumes, nvram, text, hostname);
        } catch (RuntimeException | Error e) {
            rollback(made, e);
            throw e;
        }
    }

    private void define(String name, String xml, boolean start, Made made) {
        try {
            made.domain = conn.domainDefineXML(xml);
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("defining", name, uri, e);
        }
        if (start) {
            try {
                made.domain.create();
                made.started = true;
            } catch (LibvirtException e) {
                throw LibvirtFailureException.of("starting", name, uri, e);
            }
        }
    }

    private void writeXmlFile(Path outDir, String name, String xml, Made made) {
        Path file = xmlFileFor(outDir, name);
        Path part = outDir.resolve("." + name + ".xml.part");
        try {
            Files.createDirectories(outDir);
            Files.writeString(part, xml, StandardCharsets.UTF_8);
            Files.move(part, file);
            made.xmlFile = file;
        } catch (FileAlreadyExistsException e) {
            throw new VolumeExistsException(file + " already exists; not overwriting it");
        } catch (IOException e) {
            throw CowIOException.wrap(file, "writing domain XML", e);
        } finally {
            try {
                Files.deleteIfExists(part);
            } catch (IOException e) {
                LOG.debug("could not remove {}: {}", part, e.toString());
            }
        }
    }

    private static void copyNvram(Path original, Path copy, Made made) {
        try {
            Files.createDirectories(copy.toAbsolutePath().getParent());
            if (Files.exists(original)) {
                Files.copy(original, copy);
                LOG.debug("copied NVRAM {} to {}", original, copy);
            } else {
                LOG.debug("NVRAM {} does not exist yet; libvirt creates {} from the template at first start",
                        original, copy);
            }
            // Owned from here on: the name was checked free, so whatever appears there is ours.
            made.nvram = copy;
        } catch (FileAlreadyExistsException e) {
            throw new VolumeExistsException("NVRAM file " + copy + " already exists; remove it or choose another "
                    + "NVRAM directory");
        } catch (IOException e) {
            throw CowIOException.wrap(copy, "copying NVRAM from " + original + " to", e);
        }
    }

    /** Undoes everything made for one clone; problems are logged and attached to {@code cause}. */
    private void rollback(Made made, Throwable cause) {
        List<String> undone = new ArrayList<>();
        if (made.domain != null) {
            Domain d = made.domain;
            made.domain = null;
            try {
                if (d.isActive() == 1) {
                    d.destroy();
                }
                try {
                    d.undefine(UNDEFINE_NVRAM);
                } catch (LibvirtException flagRefused) {
                    d.undefine();
                }
                undone.add("undefined domain");
            } catch (LibvirtException e) {
                LOG.warn("rollback of '{}': could not undefine the domain: {}", made.name, e.getMessage());
                cause.addSuppressed(LibvirtFailureException.of("undefining", made.name, uri, e));
            } finally {
                free(d);
            }
        }
        for (int i = made.volumes.size() - 1; i >= 0; i--) {
            Volume v = made.volumes.get(i);
            if (made.adopted.contains(v)) {
                continue; // it was there before this clone: its data stays
            }
            try {
                pool.delete(v.name());
                undone.add("deleted disk clone " + v.name());
            } catch (RuntimeException e) {
                LOG.warn("rollback of '{}': could not delete disk clone '{}': {}", made.name, v.name(), e.toString());
                cause.addSuppressed(e);
            }
        }
        for (Path p : new Path[] {made.nvram, made.seed, made.xmlFile}) {
            if (p == null) {
                continue;
            }
            try {
                if (Files.deleteIfExists(p)) {
                    undone.add("removed " + p);
                }
            } catch (IOException e) {
                LOG.warn("rollback of '{}': could not remove {}: {}", made.name, p, e.toString());
                cause.addSuppressed(e);
            }
        }
        LOG.warn("clone '{}' failed ({}); rolled back: {}", made.name, cause.toString(),
                undone.isEmpty() ? "nothing had been made" : String.join(", ", undone));
    }

    // ---------------------------------------------------------------- small helpers

    private static String volumeName(String cloneName, DiskPlan p) {
        return diskVolumeName(cloneName, p.targetDev());
    }

    /** The pool volume name of clone {@code cloneName}'s disk {@code targetDev} (for example {@code web-1-vda}). */
    public static String diskVolumeName(String cloneName, String targetDev) {
        return NOT_NAME_CHAR.matcher(cloneName + "-" + targetDev).replaceAll("_");
    }

    private static Path xmlFileFor(Path outDir, String name) {
        return outDir.resolve(name + ".xml");
    }

    /**
     * Where clone {@code name} keeps its NVRAM: {@code <dir>/<name>_VARS<ext>}, the directory being
     * the options' or the source NVRAM's, the extension the source's ({@code .fd} when it has
     * none). Null when the source names no NVRAM file.
     */
    static Path nvramTarget(DomainXml source, String name, DomainCloneOptions options) {
        Optional<String> original = source.nvramPath();
        if (original.isEmpty()) {
            return null;
        }
        Path orig = Path.of(original.get()).toAbsolutePath().normalize();
        Path dir = options.nvramDirectory().orElse(orig.getParent());
        String file = orig.getFileName().toString();
        int dot = file.lastIndexOf('.');
        String ext = dot > 0 && file.length() - dot - 1 <= 7 ? file.substring(dot) : ".fd";
        return dir.resolve(name + "_VARS" + ext);
    }

    private static UUID newUuid(Set<String> taken) {
        while (true) {
            UUID u = UUID.randomUUID();
            if (taken.add(u.toString())) {
                return u;
            }
        }
    }

    private void requireConnection(String method) {
        if (conn == null) {
            throw new IllegalStateException(method + " needs a libvirt connection; without one use cloneToXmlFiles");
        }
    }

    private static String uriOf(Connect conn) {
        try {
            return conn.getURI();
        } catch (LibvirtException | RuntimeException e) {
            return "the libvirt connection";
        }
    }

    private static void free(Domain d) {
        if (d == null) {
            return;
        }
        try {
            d.free();
        } catch (LibvirtException | RuntimeException e) {
            LOG.debug("freeing a domain handle failed: {}", e.toString());
        }
    }
}
