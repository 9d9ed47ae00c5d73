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
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** The qcow2 format: reading any uncompressed v2/v3 chain, writing v3 images and overlays. */
public final class Qcow2Format implements OverlayFormat {
    /** The format's name. */
    public static final String NAME = "qcow2";
    private static final int PARALLEL_THRESHOLD = 32;

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
        createOverlays(List.of(overlay), backing, backingFormat, virtualSize);
    }

    /**
     * Overlays in one directory share one layout, computed once; large batches are written by
     * every core at once, since each clone is a handful of independent system calls.
     */
    @Override
    public void createOverlays(List<Path> overlays, Path backing, String backingFormat, long virtualSize) {
        Map<Path, List<Path>> byDirectory = overlays.stream()
                .collect(Collectors.groupingBy(o -> o.toAbsolutePath().getParent()));
        for (Map.Entry<Path, List<Path>> group : byDirectory.entrySet()) {
            String reference = group.getKey().relativize(backing.toAbsolutePath()).toString();
            Qcow2Creator.Layout layout = new Qcow2Creator.Layout(virtualSize, reference, backingFormat,
                    Qcow2Creator.DEFAULT_CLUSTER_BITS);
            List<Path> files = group.getValue();
            if (files.size() < PARALLEL_THRESHOLD) {
                files.forEach(layout::writeTo);
            } else {
                files.parallelStream().forEach(layout::writeTo);
            }
        }
    }
}
