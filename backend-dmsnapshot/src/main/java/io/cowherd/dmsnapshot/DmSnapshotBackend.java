package io.cowherd.dmsnapshot;

import io.cowherd.Capability;
import io.cowherd.CowBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * The {@code dm-snapshot} backend: clones are device-mapper snapshots of a read-only master, each
 * with its own sparse copy-on-write store file, seen by guests as {@code /dev/mapper/NAME}. Needs
 * Linux with the {@code dm_snapshot} and {@code loop} modules, and root.
 */
public final class DmSnapshotBackend implements CowBackend {
    /** The backend's name. */
    public static final String NAME = "dm-snapshot";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.of(Capability.CLONE, Capability.IMPORT, Capability.READ, Capability.WRITE, Capability.ACTIVATE,
                Capability.FILL, Capability.PROMOTE, Capability.COMMIT);
    }

    /** Whether {@code location} is a dm-snapshot pool: its settings file is there. Creates nothing. */
    @Override
    public boolean recognizes(Path location) {
        return Files.isRegularFile(location.resolve(".cowherd").resolve(PoolSettings.FILE));
    }

    /** Guests see a plain block device: libvirt's {@code <driver type='raw'>}. */
    @Override
    public String volumeFormat() {
        return "raw";
    }

    @Override
    public boolean volumesAreFiles() {
        return false;
    }

    @Override
    public DmSnapshotPool openPool(Path location) {
        return new DmSnapshotPool(this, location, PoolSettings.forPool(location));
    }

    /**
     * Opens a pool; a pool made by this object (at its first import) takes {@code settings}, an
     * existing one keeps the settings it was created with.
     */
    public DmSnapshotPool openPool(Path location, PoolSettings settings) {
        return new DmSnapshotPool(this, location, settings);
    }
}
