package io.cowherd.spi;

import io.cowherd.ImagePolicy;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.VolumeInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;

/**
 * A disk image file format (raw, qcow2, vhd, ...): reading its metadata, opening its
 * guest-visible bytes and creating empty images. Found with {@link java.util.ServiceLoader}
 * through {@link ImageFormats}.
 */
public interface ImageFormat {

    /** The format's name as qemu-img and libvirt spell it. */
    String name();

    /**
     * Whether the first bytes of a file carry this format's magic. Only used where probing is
     * explicitly allowed; a known format is never guessed.
     */
    boolean hasMagic(ByteBuffer head);

    /**
     * Whether the last {@value ImageFormats#TRAILER_BYTES} bytes of a file carry this format's
     * signature, for formats identified by a footer (a fixed VHD has no header at all). Only used
     * where probing is allowed.
     */
    default boolean hasTrailer(ByteBuffer tail) {
        return false;
    }

    /**
     * Reads an image's metadata and, following the {@code policy}, its backing chain.
     *
     * @param depth how many images above this one in the chain (0 for the top)
     */
    VolumeInfo info(Path file, ImagePolicy policy, int depth);

    /**
     * Opens an image's guest-visible bytes, its backing chain included.
     *
     * @param depth how many images above this one in the chain (0 for the top)
     */
    VirtualDisk open(Path file, ImagePolicy policy, boolean writable, int depth);

    /** Creates a new, empty (all zero) image; fails if {@code file} exists. */
    void create(Path file, long virtualSize);

    /**
     * Creates a new, empty image with format-specific options, spelled as qemu-img's {@code -o}
     * (for example {@code cluster_size=65536} or {@code subformat=fixed}).
     *
     * @throws UnsupportedFeatureException for an option the format does not know
     */
    default void create(Path file, long virtualSize, Map<String, String> options) {
        if (!options.isEmpty()) {
            throw new UnsupportedFeatureException(name() + " images take no creation options, got " + options.keySet());
        }
        create(file, virtualSize);
    }

    /**
     * Checks an image's metadata for corruptions and leaks, like {@code qemu-img check}.
     *
     * @param repairLeaks whether to free leaked clusters or blocks ({@code -r leaks})
     */
    default CheckReport check(Path file, ImagePolicy policy, boolean repairLeaks) {
        throw new UnsupportedFeatureException(file + ": checking " + name() + " images is not supported (a " + name()
                + " image has no metadata to check)");
    }

    /**
     * Checks an image and repairs everything it can ({@code -r all}): refcounts set to the
     * references found (this is how images left dirty with lazy refcounts are rebuilt), leaks freed.
     */
    default CheckReport checkRepairingAll(Path file, ImagePolicy policy) {
        throw new UnsupportedFeatureException(file + ": repairing " + name() + " images is not supported");
    }

    /** Writes an overlay's own data into its backing image ({@code qemu-img commit}). */
    default void commit(Path overlay, ImagePolicy policy) {
        commit(overlay, policy, io.cowherd.CopyProgress.NONE);
    }

    /**
     * As {@link #commit(Path, ImagePolicy)}, telling {@code progress} how much of the overlay's
     * virtual size has been passed.
     */
    default void commit(Path overlay, ImagePolicy policy, io.cowherd.CopyProgress progress) {
        throw new UnsupportedFeatureException(overlay + ": committing " + name() + " images is not supported");
    }

    /** Grows an image's virtual size ({@code qemu-img resize}); shrinking is refused. */
    default void resize(Path file, long newSize, ImagePolicy policy) {
        throw new UnsupportedFeatureException(file + ": resizing " + name() + " images is not supported");
    }
}
