package io.cowherd;

import java.nio.file.Path;
import java.util.Set;

/**
 * One copy-on-write technology (qcow2 overlays, VHD differencing disks, device-mapper
 * snapshots, LVM snapshots). Implementations are found with {@link java.util.ServiceLoader}
 * and looked up by name through {@link Backends}.
 */
public interface CowBackend {

    /** The stable name users select this backend by, for example {@code qcow2}. */
    String name();

    /** What this backend can do; anything else fails with {@link UnsupportedCapabilityException}. */
    Set<Capability> capabilities();

    /** The format of the volumes this backend creates, as libvirt's disk {@code <driver type>}. */
    String volumeFormat();

    /** Whether volumes are files ({@code <disk type='file'>}) rather than block devices. */
    boolean volumesAreFiles();

    /**
     * Opens (creating if needed) a pool at {@code location}: a directory for file backends, a
     * volume group or thin pool for LVM.
     */
    Pool openPool(Path location);

    /** Whether this backend declares {@code capability}. */
    default boolean supports(Capability capability) {
        return capabilities().contains(capability);
    }

    /** Throws {@link UnsupportedCapabilityException} unless this backend declares {@code capability}. */
    default void require(Capability capability) {
        if (!supports(capability)) {
            throw new UnsupportedCapabilityException(name(), capability);
        }
    }
}
