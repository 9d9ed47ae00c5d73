package io.cowherd.spi;

import java.nio.file.Path;

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
}
