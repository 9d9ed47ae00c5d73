package io.cowherd.qcow2;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.VolumeInfo;
import io.cowherd.internal.io.HostFiles;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.spi.CheckReport;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
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
        Qcow2Header h = header(file);
        ImageFormats.checkSize(file, h.size, policy);
        VolumeInfo backing = null;
        String full = null;
        if (h.backingFile != null) {
            full = ImageFormats.backingName(file, h.backingFile, policy, depth);
            backing = ImageFormats.infoBacking(file, h.backingFile, h.backingFormat, policy, depth);
        }
        return info(file, h, full, backing);
    }

    @Override
    public VolumeInfo infoWithoutBacking(Path file) {
        return info(file, header(file), null, null);
    }

    private static Qcow2Header header(Path file) {
        try (HostFile f = new HostFile(file, false)) {
            return Qcow2Header.read(f);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading", e);
        }
    }

    private static VolumeInfo info(Path file, Qcow2Header h, String full, VolumeInfo backing) {
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

    /** Options as qemu-img spells them; only {@code cluster_size} (512 B to 2 MiB) so far. */
    @Override
    public void create(Path file, long virtualSize, Map<String, String> options) {
        int clusterBits = Qcow2Creator.DEFAULT_CLUSTER_BITS;
        for (Map.Entry<String, String> o : options.entrySet()) {
            if (o.getKey().equals("cluster_size")) {
                long cs = Long.parseLong(o.getValue().trim());
                if (Long.bitCount(cs) != 1 || cs < 512 || cs > (2 << 20)) {
                    throw new IllegalArgumentException("cluster_size must be a power of two from 512 to 2M, got " + cs);
                }
                clusterBits = Long.numberOfTrailingZeros(cs);
            } else if (!(o.getKey().equals("compat") && o.getValue().equals("1.1"))) {
                throw new UnsupportedFeatureException("qcow2 creation option " + o.getKey() + "=" + o.getValue()
                        + " is not supported (supported: cluster_size, compat=1.1)");
            }
        }
        Qcow2Creator.create(file, virtualSize, null, null, clusterBits);
    }

    @Override
    public CheckReport check(Path file, ImagePolicy policy, boolean repairLeaks) {
        policy.checkFormat(file, NAME);
        return Qcow2Check.run(file, repairLeaks);
    }

    @Override
    public CheckReport checkRepairingAll(Path file, ImagePolicy policy) {
        policy.checkFormat(file, NAME);
        return Qcow2Check.run(file, true, true);
    }

    /**
     * Writes every cluster the overlay defines into its backing image, then empties the overlay
     * (as {@code qemu-img commit} does), so the chain shows the same bytes before and after.
     */
    @Override
    public void commit(Path overlay, ImagePolicy policy, io.cowherd.CopyProgress progress) {
        Path backingPath;
        String backingRef;
        String backingFmt;
        try (Qcow2Image top = Qcow2Image.open(overlay, policy, false, 0)) {
            Qcow2Header h = top.header();
            if (h.backingFile == null) {
                throw new UnsupportedFeatureException(overlay + " has no backing file to commit into");
            }
            backingRef = h.backingFile;
            backingFmt = h.backingFormat;
            backingPath = ImageFormats.resolveBacking(overlay, h.backingFile, policy, 0);
            ImageFormat baseFormat = ImageFormats.backingFormat(overlay, backingPath, h.backingFormat, policy);
            try (VirtualDisk base = baseFormat.open(backingPath, policy, true, 1)) {
                if (top.size() > base.size()) {
                    throw new UnsupportedFeatureException(overlay + " is larger than its backing file; resize the backing "
                            + "file first");
                }
                int cs = top.clusterSize();
                ByteBuffer buf = ByteBuffer.allocate(cs);
                for (long at = 0; at < top.size(); at += cs) {
                    progress.advanced(at, top.size());
                    if (!top.ownsCluster(at)) {
                        continue;
                    }
                    buf.clear().limit((int) Math.min(cs, top.size() - at));
                    top.readFully(buf, at);
                    buf.flip();
                    if (DiskCopier.isZero(buf)) {
                        base.writeZeroes(at, buf.remaining());
                    } else {
                        base.write(buf, at);
                    }
                }
                base.flush();
                progress.advanced(top.size(), top.size());
            }
        } catch (IOException e) {
            throw CowIOException.wrap(overlay, "committing", e);
        }
        // Empty the overlay: a fresh one with the same backing reference, swapped in atomically.
        long size = info(overlay, policy, 0).virtualSize();
        Path fresh = overlay.resolveSibling("." + overlay.getFileName() + ".emptied");
        try {
            Files.deleteIfExists(fresh);
            Qcow2Creator.create(fresh, size, backingRef, backingFmt);
            Files.move(fresh, overlay, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw CowIOException.wrap(overlay, "emptying after commit", e);
        }
    }

    @Override
    public void rebase(Path overlay, Path newBacking, String newBackingFormat, boolean unsafe, ImagePolicy policy,
            io.cowherd.CopyProgress progress) {
        String reference = null;
        if (newBacking != null) {
            if (newBackingFormat == null) {
                throw new IllegalArgumentException("state the new backing file's format (-F); formats are never guessed");
            }
            Path dir = overlay.toAbsolutePath().getParent();
            reference = dir.relativize(newBacking.toAbsolutePath().normalize()).toString();
            policy.checkBackingLocation(overlay, newBacking);
        }
        try {
            if (!unsafe) {
                copyDifferences(overlay, newBacking, newBackingFormat, policy, progress);
            }
            try (HostFile f = new HostFile(overlay, true)) {
                Qcow2Header h = Qcow2Header.read(f);
                h.rewriteBacking(f, reference, newBacking == null ? null : newBackingFormat);
                f.force();
            }
        } catch (IOException e) {
            throw CowIOException.wrap(overlay, "rebasing", e);
        }
    }

    /** Safe rebase: every cluster the overlay leaves to its backing and the two backings disagree on is copied in. */
    private void copyDifferences(Path overlay, Path newBacking, String newBackingFormat, ImagePolicy policy,
            io.cowherd.CopyProgress progress) throws IOException {
        try (Qcow2Image img = Qcow2Image.open(overlay, policy, true, 0);
                VirtualDisk next = newBacking == null ? null
                        : ImageFormats.byName(newBackingFormat).open(newBacking, policy, false, 1)) {
            int cs = img.clusterSize();
            ByteBuffer before = ByteBuffer.allocate(cs);
            ByteBuffer after = ByteBuffer.allocate(cs);
            for (long at = 0; at < img.size(); at += cs) {
                progress.advanced(at, img.size());
                if (img.ownsCluster(at)) {
                    continue;
                }
                int len = (int) Math.min(cs, img.size() - at);
                if (img.knownZeroes(at, len) >= len && (next == null || at >= next.size()
                        || next.knownZeroes(at, Math.min(len, next.size() - at)) >= Math.min(len, next.size() - at))) {
                    continue; // zeros on both sides: nothing to compare, no need to read
                }
                before.clear().limit(len);
                img.readFully(before, at);
                after.clear().limit(len);
                if (next != null && at < next.size()) {
                    int fromNext = (int) Math.min(len, next.size() - at);
                    next.readFully(after.slice().limit(fromNext), at);
                }
                before.flip();
                if (!before.equals(after.clear().limit(len))) {
                    img.write(before, at);
                }
            }
            img.flush();
            progress.advanced(img.size(), img.size());
        }
    }

    /**
     * Grows the virtual size. A larger L1 table, when needed, is written in full before the
     * header switches to it; the size changes last.
     */
    @Override
    public void resize(Path file, long newSize, ImagePolicy policy) {
        policy.checkVirtualSize(file, newSize);
        try (HostFile f = new HostFile(file, true)) {
            Qcow2Header h = Qcow2Header.read(f);
            if (newSize < h.size) {
                throw new UnsupportedFeatureException(file + ": shrinking from " + h.size + " to " + newSize
                        + " bytes is not supported (it would drop data)");
            }
            long needed = Qcow2Header.l1EntriesFor(newSize, h.clusterBits, h.l2Entries());
            if (needed * 8 > Qcow2Header.MAX_L1_BYTES) {
                throw new UnsupportedFeatureException(file + ": " + newSize + " bytes need an L1 table above QEMU's 32 MiB limit");
            }
            if (needed > h.l1Size) {
                int cs = h.clusterSize();
                RefcountTable refcounts = RefcountTable.read(f, h);
                int clusters = (int) ((needed * 8 + cs - 1) / cs);
                long oldOffset = h.l1TableOffset;
                int oldClusters = (int) (((long) h.l1Size * 8 + cs - 1) / cs);
                L1Table old = L1Table.read(f, h);
                long table = refcounts.allocateClusters(clusters);
                ByteBuffer bigger = ByteBuffer.allocate(clusters * cs);
                for (int i = 0; i < old.size(); i++) {
                    bigger.putLong(i * 8, old.entry(i));
                }
                f.write(bigger, table);
                refcounts.flush();
                f.force();
                f.write(ByteBuffer.allocate(12).putInt(0, (int) needed).putLong(4, table), 36);
                f.force();
                if (h.l1Size > 0) {
                    for (int i = 0; i < oldClusters; i++) {
                        refcounts.adjust(oldOffset + (long) i * cs, -1);
                    }
                }
                refcounts.flush();
                f.force();
            }
            f.write(ByteBuffer.allocate(8).putLong(0, newSize), 24);
            f.force();
        } catch (IOException e) {
            throw CowIOException.wrap(file, "resizing", e);
        }
    }

    @Override
    public void createStreamOverlay(Path overlay, String reference, String backingFormat, long virtualSize) {
        new Qcow2Creator.Layout(virtualSize, reference, backingFormat, Qcow2Creator.DEFAULT_CLUSTER_BITS).writeTo(overlay);
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
