package io.cowherd.distribution.deploy;

import java.nio.file.Path;
import java.util.List;

/**
 * What a {@link Deployer#deploy} did, or with {@link DeployOptions#dryRun()} would do: one step
 * per master and one per domain, in order.
 *
 * @param dryRun whether nothing was done
 * @param masters the bundle's disks as pool masters
 * @param domains the deployment's domains
 */
public record DeployReport(boolean dryRun, List<MasterStep> masters, List<DomainStep> domains) {

    public DeployReport {
        masters = List.copyOf(masters);
        domains = List.copyOf(domains);
    }

    /** Whether the run changed nothing: every master reused, every domain there and in its state. */
    public boolean nothingToDo() {
        return masters.stream().allMatch(m -> m.action() == MasterAction.REUSE)
                && domains.stream().allMatch(d -> d.action() == DomainAction.KEEP && !d.started());
    }

    /** What happens to a master. */
    public enum MasterAction {
        /** Imported from the bundle's disk. */
        IMPORT,
        /** Already in the pool with the same guest-visible bytes. */
        REUSE
    }

    /** What happens to a domain. */
    public enum DomainAction {
        /** Cloned, defined (and started): new disks, new identity. */
        CREATE,
        /**
         * Defined again on the disks an undefined domain of that name left in the pool (its data
         * kept), with a new UUID, MAC addresses and instance id.
         */
        TAKE_BACK,
        /** Already defined as a clone of the master: left as it is (started if it was shut off). */
        KEEP
    }

    /**
     * @param disk the bundle's disk file name
     * @param name the master's name in the pool
     * @param path the master's file (for an import planned by a dry run: null)
     */
    public record MasterStep(String disk, String name, MasterAction action, Path path) {
    }

    /**
     * @param name the domain's name
     * @param uuid its UUID (null for one a dry run would make)
     * @param hostname the hostname its identity gives, or null
     * @param started whether this run started it (a dry run: would start it)
     * @param running whether it runs when the run ends (what a dry run finds)
     */
    public record DomainStep(String name, DomainAction action, String uuid, String hostname, boolean started,
            boolean running) {
    }
}
