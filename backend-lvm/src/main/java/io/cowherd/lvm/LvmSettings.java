package io.cowherd.lvm;

/**
 * How a pool sizes and guards its clones.
 *
 * @param cowPercent classic pools: each clone's copy-on-write area as a percentage of its
 *        master's size (at least one extent); what a clone may write before it overflows
 * @param thinDataLimitPercent thin pools: cloning is refused when the pool's data is this full
 * @param thinMetadataLimitPercent thin pools: cloning is refused when the pool's metadata is this full
 * @param libvirtUri the libvirt connection used to refresh the volume group's libvirt storage pool
 *        after each change, when one was defined ({@link LvmPool#defineLibvirtPool})
 */
public record LvmSettings(int cowPercent, int thinDataLimitPercent, int thinMetadataLimitPercent, String libvirtUri) {

    /** Checks the ranges. */
    public LvmSettings {
        if (cowPercent < 1 || cowPercent > 100) {
            throw new IllegalArgumentException("cowPercent must be 1..100, not " + cowPercent);
        }
        if (thinDataLimitPercent < 1 || thinDataLimitPercent > 100 || thinMetadataLimitPercent < 1
                || thinMetadataLimitPercent > 100) {
            throw new IllegalArgumentException("thin limits must be 1..100 percent");
        }
        java.util.Objects.requireNonNull(libvirtUri, "libvirtUri");
    }

    /** 25% copy-on-write areas; thin cloning refused at 95% data or 90% metadata; libvirt at qemu:///system. */
    public static LvmSettings defaults() {
        return new LvmSettings(25, 95, 90, "qemu:///system");
    }

    /** These settings with another copy-on-write percentage. */
    public LvmSettings withCowPercent(int percent) {
        return new LvmSettings(percent, thinDataLimitPercent, thinMetadataLimitPercent, libvirtUri);
    }

    /** These settings with another libvirt connection URI for storage pool refreshes. */
    public LvmSettings withLibvirtUri(String uri) {
        return new LvmSettings(cowPercent, thinDataLimitPercent, thinMetadataLimitPercent, uri);
    }
}
