package io.cowherd.qcow2;

import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.VolumeInfo;
import io.cowherd.io.HostFiles;
import io.cowherd.spi.ImageFormats;
import io.cowherd.spi.OverlayFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/** The qcow2 format: reading any uncompressed v2/v3 chain, writing v3 images and overlays. */
public final class Qcow2Format implements OverlayFormat {
    /** The format's name. */
    public static final String NAME = "qcow2";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean hasMagic(ByteBuffer head) {
        return head.remaining() >= 4 && head.getInt(head.position()) == Qcow2Header.MAGIC;
    }

    @Override
    public VolumeInfo info(Path file, ImagePolicy policy, int depth) {
        policy.checkFormat(file, NAME);
        Qcow2Header h;
        try (ImageFile f = new ImageFile(file, false)) {
            h = Qcow2Header.read(f);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading", e);
        }
        ImageFormats.checkSize(file, h.size, policy);
        VolumeInfo backing = null;
        String full = null;
        if (h.backingFile != null) {
            full = ImageFormats.resolveBacking(file, h.backingFile, policy, depth).toString();
            backing = ImageFormats.infoBacking(file, h.backingFile, h.backingFormat, policy, depth);
        }
        long actual;
        try {
            actual = HostFiles.allocatedBytes(file);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading the size of", e);
        }
        return new VolumeInfo(file.toString(), NAME, h.size, actual, h.clusterSize(), h.backingFile, h.backingFormat,
                full, backing);
    }

    @Override
    public VirtualDisk open(Path file, ImagePolicy policy, boolean writable, int depth) {
        return Qcow2Image.open(file, policy, writable, depth);
    }

    @Override
    public void create(Path file, long virtualSize) {
        Qcow2Creator.create(file, virtualSize, null, null);
    }

    @Override
    public void createOverlay(Path overlay, Path backing, String backingFormat, long virtualSize) {
        Path dir = overlay.toAbsolutePath().getParent();
        String reference = dir.relativize(backing.toAbsolutePath()).toString();
        Qcow2Creator.create(overlay, virtualSize, reference, backingFormat);
    }
}
