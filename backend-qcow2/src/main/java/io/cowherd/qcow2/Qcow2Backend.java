package io.cowherd.qcow2;

import io.cowherd.Capability;
import io.cowherd.spi.FileImageBackend;
import io.cowherd.spi.OverlayFormat;
import java.util.EnumSet;
import java.util.Set;

/**
 * The {@code qcow2} backend: masters are qcow2 images in a directory pool, clones are qcow2 v3
 * overlays whose backing file is the master's name, relative, with its format recorded.
 */
public final class Qcow2Backend extends FileImageBackend {
    private static final Qcow2Format FORMAT = new Qcow2Format();

    @Override
    public String name() {
        return "qcow2";
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.of(Capability.CLONE, Capability.IMPORT, Capability.READ, Capability.WRITE,
                Capability.FLATTEN, Capability.PROMOTE, Capability.COMMIT, Capability.RESIZE, Capability.STREAM);
    }

    @Override
    protected OverlayFormat format() {
        return FORMAT;
    }
}
