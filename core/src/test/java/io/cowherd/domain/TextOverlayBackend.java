package io.cowherd.domain;

import io.cowherd.Capability;
import io.cowherd.spi.FileImageBackend;
import io.cowherd.spi.OverlayFormat;
import java.util.EnumSet;
import java.util.Set;

/**
 * TEST ONLY: a backend over {@link TextOverlayFormat}, so the domain cloner can be tested in core
 * against a real {@link io.cowherd.internal.pool.DirectoryPool} without a real image format.
 */
final class TextOverlayBackend extends FileImageBackend {
    private final TextOverlayFormat format;

    /** A backend whose volumes claim to be {@code formatName} (what libvirt sees in {@code <driver type>}). */
    TextOverlayBackend(String formatName) {
        this.format = new TextOverlayFormat(formatName);
    }

    @Override
    protected OverlayFormat format() {
        return format;
    }

    @Override
    public String name() {
        return "test-text-overlay";
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.of(Capability.CLONE, Capability.IMPORT, Capability.READ);
    }
}
