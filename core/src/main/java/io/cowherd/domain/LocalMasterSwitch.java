package io.cowherd.domain;

import io.cowherd.CopyProgress;
import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.Images;
import io.cowherd.spi.ImageFormats;
import io.cowherd.spi.OverlayFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves the clones of a streaming master onto the local master once it has arrived: every disk,
 * on one libvirt connection, whose qcow2 image backs directly onto the master's NBD export. The
 * local master holds the same bytes as the export served (its pieces passed their hashes), so no
 * guest-visible byte changes and nothing of the master is copied:
 * <ul>
 * <li>a running domain moves live ({@link LiveDiskMove}): a new top image {@code NAME.local.qcow2}
 * next to the old one, backed by the local master, receives the clone's own writes, the guest is
 * pivoted onto it, and the old top is removed;</li>
 * <li>a stopped domain's top image is rebased onto the local master in place (only its backing
 * reference changes) and its definition no longer names the export.</li>
 * </ul>
 * Disks whose export is deeper in the chain (a clone of a clone) are left alone and logged: a
 * shallow copy would drop the images in between.
 */
public final class LocalMasterSwitch {
    private static final Logger LOG = LoggerFactory.getLogger(LocalMasterSwitch.class);

    /**
     * One disk moved.
     *
     * @param domain the domain's name
     * @param disk the disk's target ({@code vda})
     * @param image the disk's top image now
     * @param live whether the domain was running (moved with a block copy) or stopped (rebased)
     */
    public record Moved(String domain, String disk, Path image, boolean live) {
    }

    private LocalMasterSwitch() {
    }

    /**
     * Moves every disk on {@code conn} backed by export {@code export} of the NBD server on
     * {@code socket} onto {@code localMaster}.
     *
     * @param localFormat the local master's format ({@code raw}, {@code qcow2})
     * @param timeout how long each live copy may take to catch up
     * @return what moved, running domains first
     * @throws LibvirtFailureException if libvirt refuses a step (what moved before stays moved)
     */
    public static List<Moved> moveAll(Connect conn, Path socket, String export, Path localMaster, String localFormat,
            Duration timeout) {
        OverlayFormat qcow2 = (OverlayFormat) ImageFormats.byName("qcow2");
        Path local = localMaster.toAbsolutePath();
        List<Moved> moved = new ArrayList<>();
        try {
            for (int id : conn.listDomains()) {
                Domain d = conn.domainLookupByID(id);
                DomainXml live = DomainXml.parse(d.getXMLDesc(0));
                for (String dev : live.disksBackedByNbd(socket, export)) {
                    Path top = topImage(live, dev, d.getName());
                    Path newTop = top.resolveSibling(baseName(top) + ".local.qcow2");
                    moveLive(qcow2, d, dev, newTop, local, localFormat, timeout);
                    delete(top);
                    moved.add(new Moved(d.getName(), dev, newTop, true));
                }
            }
            for (String name : conn.listDefinedDomains()) {
                Domain d = conn.domainLookupByName(name);
                DomainXml def = DomainXml.parse(d.getXMLDesc(DomainCloner.XML_INACTIVE));
                List<String> devs = def.disksBackedByNbd(socket, export);
                for (String dev : devs) {
                    Path top = topImage(def, dev, name);
                    Images.rebase(top, qcow2, local, localFormat, true, ImagePolicy.operator(), CopyProgress.NONE);
                    def.replaceDiskSource(dev, top.toString(), "qcow2", true);
                    moved.add(new Moved(name, dev, top, false));
                }
                if (!devs.isEmpty()) {
                    conn.domainDefineXML(def.toXml());
                }
            }
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("moving the clones of export " + export + " onto " + local, null, null, e);
        }
        for (Moved m : moved) {
            LOG.info("domain {}: disk {} moved onto the local master {} ({})", m.domain(), m.disk(), local,
                    m.live() ? "live: copied its own writes and pivoted" : "stopped: rebased");
        }
        return moved;
    }

    /**
     * Moves the running guests on clones of {@code master}, a streaming master of {@code pool}
     * that {@link io.cowherd.Pool#completeStream} switched to its local file, off the export: each
     * disk on {@code conn} whose image is such a clone moves live onto a new top
     * {@code NAME.local.qcow2} in the pool, backed by the master's stand-in (which now reads the
     * local file), and the pool records the clone there ({@link io.cowherd.Pool#movedClone}).
     * Stopped domains need nothing: their clones read the stand-in, and with it the local file,
     * when they start.
     *
     * @param timeout how long each live copy may take to catch up
     * @return what moved
     * @throws LibvirtFailureException if libvirt refuses a step (what moved before stays moved)
     */
    public static List<Moved> moveClones(Connect conn, io.cowherd.Pool pool, String master, Duration timeout) {
        OverlayFormat qcow2 = (OverlayFormat) ImageFormats.byName("qcow2");
        Path standIn = pool.get(master).path();
        java.util.Map<Path, String> clones = new java.util.HashMap<>();
        for (io.cowherd.Volume c : pool.clonesOf(master)) {
            clones.put(c.path().toAbsolutePath().normalize(), c.name());
        }
        List<Moved> moved = new ArrayList<>();
        try {
            for (int id : conn.listDomains()) {
                Domain d = conn.domainLookupByID(id);
                for (DomainDisk disk : DomainXml.parse(d.getXMLDesc(0)).disks()) {
                    String clone = disk.source() == null || !"file".equals(disk.type()) ? null
                            : clones.get(Path.of(disk.source()).toAbsolutePath().normalize());
                    if (clone == null) {
                        continue;
                    }
                    Path top = Path.of(disk.source());
                    Path newTop = top.resolveSibling(baseName(top) + ".local.qcow2");
                    if (Files.exists(newTop)) {
                        throw new CowException("domain " + d.getName() + ": disk " + disk.targetDev() + " cannot move to "
                                + newTop + ", which exists already (move it away)");
                    }
                    moveLive(qcow2, d, disk.targetDev(), newTop, standIn, "qcow2", timeout);
                    pool.movedClone(clone, newTop);
                    moved.add(new Moved(d.getName(), disk.targetDev(), newTop, true));
                }
            }
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("moving the running clones of master '" + master + "' off its export", null,
                    null, e);
        }
        for (Moved m : moved) {
            LOG.info("domain {}: disk {} moved live off the export of master '{}' onto {}", m.domain(), m.disk(), master,
                    m.image());
        }
        return moved;
    }

    /**
     * Makes {@code newTop}, backed by {@code backing}, and moves the running disk onto it
     * ({@link LiveDiskMove}). A copy that failed or was abandoned leaves the new top nobody's, so it
     * goes; but after the pivot (only the definition's update failed) the guest runs on it.
     */
    private static void moveLive(OverlayFormat qcow2, Domain d, String dev, Path newTop, Path backing, String backingFormat,
            Duration timeout) throws LibvirtException {
        qcow2.createOverlay(newTop, backing, backingFormat, d.blockInfo(dev).getCapacity());
        try {
            LiveDiskMove.shallowCopyAndPivot(d, dev, newTop, timeout);
        } catch (RuntimeException e) {
            if (!runsOn(d, newTop)) {
                deleteQuietly(newTop);
            }
            throw e;
        }
    }

    private static Path topImage(DomainXml xml, String dev, String domain) {
        DomainDisk disk = xml.disks().stream().filter(x -> x.targetDev().equals(dev)).findFirst().orElseThrow();
        if (!"qcow2".equals(disk.driverType()) || disk.source() == null || !"file".equals(disk.type())) {
            throw new CowException("domain " + domain + ": disk " + dev + " backs onto the export but is not a qcow2 file ("
                    + disk.type() + ", " + disk.driverType() + "); cowherd moves only qcow2 clones");
        }
        return Path.of(disk.source());
    }

    private static String baseName(Path image) {
        String n = image.getFileName().toString();
        return n.endsWith(".qcow2") ? n.substring(0, n.length() - ".qcow2".length()) : n;
    }

    /** Whether the running domain's disks use {@code image}; true when that cannot be told (keep the file). */
    private static boolean runsOn(Domain d, Path image) {
        try {
            return DomainXml.parse(d.getXMLDesc(0)).disks().stream().anyMatch(x -> image.toString().equals(x.source()));
        } catch (LibvirtException | RuntimeException e) {
            return true;
        }
    }

    private static void deleteQuietly(Path unused) {
        try {
            Files.deleteIfExists(unused);
        } catch (IOException e) {
            LOG.warn("could not remove {}, made for a move that failed: {}", unused, e.toString());
        }
    }

    private static void delete(Path oldTop) {
        try {
            Files.deleteIfExists(oldTop);
        } catch (IOException e) {
            throw CowIOException.wrap(oldTop, "removing the clone's old top image (the domain already runs on the new one)", e);
        }
    }
}
