package io.cowherd.vhd;

import io.cowherd.Capability;
import io.cowherd.spi.FileImageBackend;
import io.cowherd.spi.OverlayFormat;
import java.util.EnumSet;
import java.util.Set;

/**
 * The {@code vhd} backend: masters are dynamic VHDs in a directory pool, clones are differencing
 * VHDs that record their master by relative and absolute path, unique id and timestamp: what
 * Xen's blktap ({@code <driver name='tap' type='vhd'/>}), Hyper-V and VirtualBox open.
 */
public final class VhdBackend extends FileImageBackend {
    private static final VhdFormat FORMAT = new VhdFormat();

    @Override
    public String name() {
        return "vhd";
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.of(Capability.CLONE, Capability.IMPORT, Capability.READ, Capability.WRITE,
                Capability.FLATTEN, Capability.PROMOTE, Capability.COMMIT, Capability.RESIZE);
    }

    @Override
    protected OverlayFormat format() {
        return FORMAT;
    }
}
