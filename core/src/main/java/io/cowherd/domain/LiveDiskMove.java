package io.cowherd.domain;

import io.cowherd.CowException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.libvirt.Domain;
import org.libvirt.DomainBlockJobInfo;
import org.libvirt.LibvirtException;
import org.libvirt.TypedParameter;
import org.libvirt.TypedUlongParameter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a running domain's disk onto another image chain with the same guest-visible bytes,
 * while the guest runs: libvirt's shallow block copy copies only the disk's top image (the
 * clone's own writes) into {@code newTop}, an image the caller made whose backing file holds the
 * same bytes as the current backing, then the pivot switches the guest over. cowherd moves the
 * clones of a streaming master onto the local master this way once it has arrived: the piece
 * hashes prove the local file holds the bytes the export served.
 *
 * <pre>{@code
 * // qemu-img create -f qcow2 -b /pool/golden.raw -F raw /pool/web-1-local.qcow2 (same virtual size)
 * LiveDiskMove.shallowCopyAndPivot(domain, "vda", Path.of("/pool/web-1-local.qcow2"), Duration.ofMinutes(5));
 * }</pre>
 */
public final class LiveDiskMove {
    private static final Logger LOG = LoggerFactory.getLogger(LiveDiskMove.class);
    /** VIR_DOMAIN_BLOCK_COPY_SHALLOW, _REUSE_EXT and _TRANSIENT_JOB. */
    private static final int SHALLOW = 1;
    private static final int REUSE_EXT = 2;
    private static final int TRANSIENT_JOB = 4;
    /** VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT. */
    private static final int PIVOT = 2;

    private LiveDiskMove() {
    }

    /**
     * Copies the top image of the running {@code domain}'s disk {@code targetDev} into {@code newTop}
     * (a qcow2 image, made by the caller, of the same virtual size, whose backing chain holds the
     * guest-visible bytes of the current backing chain), waits until the copy has caught up, and
     * pivots. A persistent domain's definition then names {@code newTop} too (libvirt keeps a block
     * copy's result out of the persistent definition). On failure or timeout the copy is abandoned
     * and the domain keeps its disk as it was.
     *
     * @throws LibvirtFailureException if libvirt refuses the copy or the pivot
     * @throws CowException if the copy does not catch up within {@code timeout}
     */
    public static void shallowCopyAndPivot(Domain domain, String targetDev, Path newTop, Duration timeout) {
        String name = nameOf(domain);
        String dest = "<disk type='file'><source file='" + escape(newTop.toAbsolutePath().toString())
                + "'/><driver type='qcow2'/></disk>";
        try {
            boolean persistent = domain.isPersistent() == 1;
            // libvirt refuses a block copy of a persistent domain unless the job is transient
            // bandwidth 0 (no limit) is libvirt's default; libvirt-java 0.5.4 fails on an empty parameter array
            TypedParameter[] params = {new TypedUlongParameter(Domain.BlockCopyParameters.BANDWIDTH, 0)};
            domain.blockCopy(targetDev, dest, params, SHALLOW | REUSE_EXT | (persistent ? TRANSIENT_JOB : 0));
            LOG.info("domain {}: copying the top of disk {} into {}", name, targetDev, newTop);
            awaitReadyAndPivot(domain, name, targetDev, timeout);
            LOG.info("domain {}: disk {} now runs on {}", name, targetDev, newTop);
            if (persistent) {
                DomainXml xml = DomainXml.parse(domain.getXMLDesc(DomainCloner.XML_INACTIVE));
                xml.replaceDiskSource(targetDev, newTop.toAbsolutePath().toString(), "qcow2", true);
                domain.getConnect().domainDefineXML(xml.toXml());
            }
        } catch (LibvirtException e) {
            throw LibvirtFailureException.of("moving disk " + targetDev + " of", name, null, e);
        }
    }

    /** Pivots once the copy job has caught up ("ready"); abandons the job at the deadline. */
    private static void awaitReadyAndPivot(Domain domain, String name, String targetDev, Duration timeout)
            throws LibvirtException {
        long deadline = System.nanoTime() + timeout.toNanos();
        LibvirtException lastRefusal = null;
        while (System.nanoTime() < deadline) {
            DomainBlockJobInfo job = domain.getBlockJobInfo(targetDev, 0);
            if (job != null && job.end > 0 && job.cur == job.end) {
                try {
                    domain.blockJobAbort(targetDev, PIVOT);
                    return;
                } catch (LibvirtException e) {
                    lastRefusal = e; // caught up but not yet "ready": libvirt says so; try again shortly
                }
            }
            try {
                TimeUnit.MILLISECONDS.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        try {
            domain.blockJobAbort(targetDev, 0);
        } catch (LibvirtException e) {
            LOG.debug("abandoning the block copy of {} on {}: {}", targetDev, name, e.getMessage());
        }
        throw new CowException("domain " + name + ": the copy of disk " + targetDev + " did not catch up within "
                + timeout.toSeconds() + " s; abandoned, the disk is as it was"
                + (lastRefusal != null ? " (libvirt: " + lastRefusal.getMessage() + ")" : ""));
    }

    private static String nameOf(Domain domain) {
        try {
            return domain.getName();
        } catch (LibvirtException e) {
            return "?";
        }
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;").replace("\"", "&quot;");
    }
}
