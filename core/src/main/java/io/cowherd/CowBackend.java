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

    /**
     * Whether an existing pool of this backend that does not carry the pool record file
     * ({@code .cowherd/backend}) lives at {@code location}: pools made before that record existed,
     * and pools whose record lives elsewhere (LVM keeps it in the volume group's tags). Must be
     * cheap and must not create anything. {@link Pools} asks this only when the record file is
     * missing.
     */
    default boolean recognizes(Path location) {
        return false;
    }

    /**
     * The location of this backend's pool that would record the volume at {@code path} (an image
     * file or a device), where {@code path}'s directory is a location of this backend: by default
     * that directory. A backend whose pools keep their volumes side by side says which pool a
     * volume belongs to (LVM: a thin pool's volumes are {@code /dev/VG/NAME}, beside the classic
     * pool's). Creates nothing.
     */
    default Path poolLocationOf(Path path) {
        return path.toAbsolutePath().normalize().getParent();
    }

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
