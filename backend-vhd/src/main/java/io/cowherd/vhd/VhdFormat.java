package io.cowherd.vhd;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.VolumeInfo;
import io.cowherd.internal.io.HostFiles;
import io.cowherd.spi.CheckReport;
import io.cowherd.spi.ImageFormats;
import io.cowherd.spi.OverlayFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VHD format (Microsoft Virtual Hard Disk, qemu-img's {@code vpc}): fixed, dynamic and
 * differencing disks, read and written in pure Java. New images are dynamic unless
 * {@code subformat=fixed} is asked for; overlays are differencing disks that record their
 * parent's unique id and timestamp (checked on every open), its relative path (W2ru and the
 * parent name) and its absolute path (W2ku).
 */
public final class VhdFormat implements OverlayFormat {
    /** The format's name. */
    public static final String NAME = "vhd";
    private static final Logger LOG = LoggerFactory.getLogger(VhdFormat.class);
    private static final int PARALLEL_THRESHOLD = 32;

    @Override
    public String name() {
        return NAME;
    }

    /** Dynamic and differencing disks start with the footer copy; fixed disks carry no magic up front. */
    @Override
    public boolean hasMagic(ByteBuffer head) {
        return VhdFooter.hasCookie(head);
    }

    /** A fixed VHD is its data and a footer: the cookie and a checksum that sums right. */
    @Override
    public boolean hasTrailer(ByteBuffer tail) {
        if (tail.remaining() != VhdFooter.SIZE || !VhdFooter.hasCookie(tail)) {
            return false;
        }
        byte[] raw = new byte[VhdFooter.SIZE];
        tail.duplicate().get(raw);
        return VhdFooter.checksum(raw, 64) == ByteBuffer.wrap(raw).getInt(64);
    }

    @Override
    public VolumeInfo info(Path file, ImagePolicy policy, int depth) {
        policy.checkFormat(file, NAME);
        VhdMetadata meta;
        String reference = null;
        Path parentPath = null;
        try (HostFile f = new HostFile(file, false)) {
            meta = VhdMetadata.read(f, policy);
            if (meta.footer.isDifferencing()) {
                VhdMetadata.ResolvedParent rp = meta.resolveParent(f, policy, depth);
                reference = rp.reference();
                parentPath = rp.path();
            }
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading", e);
        }
        VolumeInfo backing = null;
        if (parentPath != null) {
            policy.checkFormat(parentPath, NAME);
            backing = info(parentPath, policy, depth + 1);
        }
        long actual;
        try {
            actual = HostFiles.allocatedBytes(file);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading the size of", e);
        }
        int blockSize = meta.header == null ? 0 : meta.header.blockSize;
        return new VolumeInfo(file.toString(), NAME, meta.footer.currentSize, actual, blockSize, reference,
                parentPath == null ? null : NAME, parentPath == null ? null : parentPath.toString(), backing);
    }

    @Override
    public VirtualDisk open(Path file, ImagePolicy policy, boolean writable, int depth) {
        return VhdImage.open(file, policy, writable, depth);
    }

    /** Creates an empty dynamic disk with 2 MiB blocks. */
    @Override
    public void create(Path file, long virtualSize) {
        VhdCreator.createDynamic(file, virtualSize, DynamicHeader.DEFAULT_BLOCK_SIZE);
    }

    /**
     * Options, as qemu-img spells them: {@code subformat=dynamic|fixed} (default dynamic) and
     * {@code block_size=BYTES} (dynamic only; a power of two from 512 to 256 MiB, default 2 MiB).
     */
    @Override
    public void create(Path file, long virtualSize, Map<String, String> options) {
        Map<String, String> opts = new HashMap<>(options);
        String sub = opts.remove("subformat");
        String bs = opts.remove("block_size");
        if (!opts.isEmpty()) {
            throw new UnsupportedFeatureException("vhd images take the options subformat=dynamic|fixed and "
                    + "block_size=BYTES; unknown: " + opts.keySet());
        }
        long blockSize = DynamicHeader.DEFAULT_BLOCK_SIZE;
        if (bs != null) {
            try {
                blockSize = Long.parseLong(bs.trim());
            } catch (NumberFormatException e) {
                throw new UnsupportedFeatureException("block_size=" + bs + " is not a number of bytes");
            }
            VhdCreator.checkBlockSize(file, blockSize);
        }
        String kind = sub == null ? "dynamic" : sub.toLowerCase(Locale.ROOT);
        switch (kind) {
            case "dynamic" -> VhdCreator.createDynamic(file, virtualSize, (int) blockSize);
            case "fixed" -> {
                if (bs != null) {
                    throw new UnsupportedFeatureException("block_size applies to dynamic vhd images, not fixed ones");
                }
                VhdCreator.createFixed(file, virtualSize);
            }
            default -> throw new UnsupportedFeatureException("subformat=" + sub + " is not a vhd subformat "
                    + "(dynamic or fixed; differencing disks are made by cloning)");
        }
    }

    @Override
    public void createOverlay(Path overlay, Path backing, String backingFormat, long virtualSize) {
        createOverlays(List.of(overlay), backing, backingFormat, virtualSize);
    }

    /** Overlays in one directory share one layout; large batches are written by every core at once. */
    @Override
    public void createOverlays(List<Path> overlays, Path backing, String backingFormat, long virtualSize) {
        if (!NAME.equals(backingFormat)) {
            throw new UnsupportedFeatureException("a VHD differencing disk needs a VHD parent, not " + backingFormat
                    + "; import " + backing + " as vhd first");
        }
        Path parent = backing.toAbsolutePath().normalize();
        VhdFooter parentFooter;
        int blockSize;
        try (HostFile f = new HostFile(parent, false)) {
            VhdMetadata m = VhdMetadata.read(f, ImagePolicy.operator());
            parentFooter = m.footer;
            blockSize = m.header == null ? DynamicHeader.DEFAULT_BLOCK_SIZE : m.header.blockSize;
        } catch (IOException e) {
            throw CowIOException.wrap(parent, "reading", e);
        }
        long size = VhdCreator.diskSize(parent, virtualSize);
        Map<Path, List<Path>> byDirectory = overlays.stream()
                .collect(Collectors.groupingBy(o -> o.toAbsolutePath().normalize().getParent()));
        for (Map.Entry<Path, List<Path>> group : byDirectory.entrySet()) {
            String relative = group.getKey().relativize(parent).toString();
            VhdCreator.Differencing layout = new VhdCreator.Differencing(size, parentFooter, relative, parent,
                    blockSize);
            List<Path> files = group.getValue();
            if (files.size() < PARALLEL_THRESHOLD) {
                files.forEach(layout::writeTo);
            } else {
                // One layout per file: writeTo stamps a fresh unique id into its footer.
                files.parallelStream().forEach(p -> new VhdCreator.Differencing(size, parentFooter, relative, parent,
                        blockSize).writeTo(p));
            }
        }
    }

    @Override
    public CheckReport check(Path file, ImagePolicy policy, boolean repairLeaks) {
        return VhdChecker.check(file, policy, repairLeaks);
    }

    /**
     * Writes a differencing disk's own sectors into its parent, then empties it (as
     * {@code qemu-img commit} does), so the pair shows the same bytes as before.
     */
    @Override
    public void commit(Path overlay, ImagePolicy policy, io.cowherd.CopyProgress progress) {
        try (VhdImage child = VhdImage.open(overlay, policy, true, 0)) {
            if (!child.footer().isDifferencing()) {
                throw new UnsupportedFeatureException(overlay + " is a " + child.footer().typeName()
                        + " VHD with no parent; there is nothing to commit it into");
            }
            Path parentPath = child.parent().file().path();
            try (VhdImage parent = VhdImage.open(parentPath, policy, true, 1)) {
                BlockAllocationTable bat = child.bat();
                int bs = child.blockSize();
                ByteBuffer buf = ByteBuffer.allocate(bs);
                long data = child.header().bitmapBytes();
                for (int b = 0; b < bat.size(); b++) {
                    progress.advanced(Math.min((long) b * bs, child.size()), child.size());
                    long off = bat.blockOffset(b);
                    if (off < 0) {
                        continue;
                    }
                    SectorBitmap bm = child.bitmap(b, off);
                    long guestBase = (long) b * bs;
                    int sectors = (int) Math.min(bs, child.size() - guestBase) / VhdLayout.SECTOR;
                    int s = 0;
                    while (s < sectors) {
                        int run = bm.runLength(s, sectors - s);
                        if (bm.isSet(s)) {
                            buf.clear().limit(run * VhdLayout.SECTOR);
                            child.file().readData(buf, off + data + (long) s * VhdLayout.SECTOR);
                            buf.flip();
                            parent.write(buf, guestBase + (long) s * VhdLayout.SECTOR);
                        }
                        s += run;
                    }
                }
                parent.flush();
                progress.advanced(child.size(), child.size());
            }
            child.emptyAllBlocks();
            LOG.info("committed {} into {}", overlay, parentPath);
        } catch (IOException e) {
            throw CowIOException.wrap(overlay, "committing", e);
        }
    }

    /** Grows a VHD: fixed disks move their footer; dynamic ones grow (or move) their table first. */
    @Override
    public void resize(Path file, long newSize, ImagePolicy policy) {
        VhdResizer.resize(file, newSize, policy);
    }

    @Override
    public void rebase(Path overlay, Path newBacking, String newBackingFormat, boolean unsafe, ImagePolicy policy,
            io.cowherd.CopyProgress progress) {
        VhdResizer.rebase(overlay, newBacking, newBackingFormat, unsafe, policy, progress);
    }
}
