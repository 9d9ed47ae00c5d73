package io.cowherd.spi;

import java.nio.file.Path;
import java.util.List;

/** An {@link ImageFormat} that can record a backing image and store only what differs from it. */
public interface OverlayFormat extends ImageFormat {

    /**
     * Creates {@code overlay} backed by {@code backing}. The backing reference is recorded
     * relative to the overlay's directory, with the backing format, so the pair can move
     * together and nothing is ever probed.
     *
     * @param virtualSize the overlay's size, normally the backing image's
     */
    void createOverlay(Path overlay, Path backing, String backingFormat, long virtualSize);

    /**
     * Points an overlay at a new backing image ({@code qemu-img rebase}). Safe mode first copies
     * into the overlay every cluster where the old and new backing differ, so the guest sees the
     * same bytes; unsafe mode only rewrites the reference.
     *
     * @param newBacking the new backing file, or null to drop the backing file (safe mode copies it all in)
     */
    default void rebase(Path overlay, Path newBacking, String newBackingFormat, boolean unsafe, io.cowherd.ImagePolicy policy) {
        rebase(overlay, newBacking, newBackingFormat, unsafe, policy, io.cowherd.CopyProgress.NONE);
    }

    /**
     * As {@link #rebase(Path, Path, String, boolean, io.cowherd.ImagePolicy)}, telling {@code
     * progress} how much of the overlay's virtual size a safe rebase has compared.
     */
    default void rebase(Path overlay, Path newBacking, String newBackingFormat, boolean unsafe, io.cowherd.ImagePolicy policy,
            io.cowherd.CopyProgress progress) {
        throw new io.cowherd.UnsupportedFeatureException("rebasing " + name() + " images is not supported");
    }

    /**
     * Creates several overlays of one backing image. Formats override this when a batch can
     * share work; on failure some of {@code overlays} may exist and the caller removes them.
     */
    /**
     * The overlay's own metadata, its backing reference and format as recorded, without opening
     * or checking the backing ({@link io.cowherd.VolumeInfo#backing()} is null).
     */
    default io.cowherd.VolumeInfo infoWithoutBacking(Path overlay) {
        throw new io.cowherd.UnsupportedFeatureException("reading " + name() + " metadata without its backing is not supported");
    }

    /**
     * Creates an overlay backed not by a file but by {@code reference}, an NBD export that serves
     * a streaming master ({@code nbd+unix:///EXPORT?socket=PATH}, written as it is).
     */
    default void createStreamOverlay(Path overlay, String reference, String backingFormat, long virtualSize) {
        throw new io.cowherd.UnsupportedFeatureException(name() + " images cannot back onto an NBD export");
    }

    default void createOverlays(List<Path> overlays, Path backing, String backingFormat, long virtualSize) {
        for (Path o : overlays) {
            createOverlay(o, backing, backingFormat, virtualSize);
        }
    }
}
