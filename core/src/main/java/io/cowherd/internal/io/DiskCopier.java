package io.cowherd.internal.io;

import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.VolumeExistsException;
import io.cowherd.spi.CompressingDisk;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import io.cowherd.spi.OverlayFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * Copies the guest-visible bytes of a disk into a new image of any format ({@code convert}):
 * holes the source knows of are skipped unread, everything else is read and written except
 * all-zero units, so the result stays sparse. The target is written under a temporary name next
 * to it and renamed into place only when complete, so a failure never leaves a half-written
 * image behind.
 */
public final class DiskCopier {
    /**
     * Zero detection unit, as qemu-img convert's default {@code -S 4k}: an aligned unit whose
     * bytes are all zero is never written, so it stays a hole (raw), an unallocated cluster
     * (qcow2) or part of an unallocated block (VHD).
     */
    private static final int SPARSE_UNIT = 4096;
    /** Largest read; a multiple of {@link #SPARSE_UNIT}. */
    private static final int CHUNK = 1 << 20;
    /** What {@link #fillZero} copies from. */
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();
    /** Comparison unit for {@code -B} when the output format has no cluster of its own. */
    private static final int DEFAULT_UNIT = 64 * 1024;

    private DiskCopier() {
    }

    /** What fills a freshly made image, given its temporary path. */
    private interface Filler {
        void fill(Path tmp) throws IOException;
    }

    /** Writes the content of {@code source} to a new {@code format} image at {@code target}, durably. */
    public static void copy(VirtualDisk source, ImageFormat format, Path target, ImagePolicy policy) {
        copy(source, format, Map.of(), target, policy);
    }

    /**
     * Writes the content of {@code source} to a new {@code format} image at {@code target},
     * created with {@code options} (qemu-img's {@code -o}), durably.
     */
    public static void copy(VirtualDisk source, ImageFormat format, Map<String, String> options, Path target,
            ImagePolicy policy) {
        copy(source, format, options, target, policy, true);
    }

    /**
     * As {@link #copy(VirtualDisk, ImageFormat, Map, Path, ImagePolicy)}; {@code durable} says
     * whether to wait for the disk before the rename ({@code false} is qemu-img convert's default:
     * the data is in the page cache, a power cut can lose it).
     */
    public static void copy(VirtualDisk source, ImageFormat format, Map<String, String> options, Path target,
            ImagePolicy policy, boolean durable) {
        copy(source, format, options, target, policy, durable, io.cowherd.CopyProgress.NONE);
    }

    /** As {@link #copy(VirtualDisk, ImageFormat, Map, Path, ImagePolicy, boolean)}, telling {@code progress}. */
    public static void copy(VirtualDisk source, ImageFormat format, Map<String, String> options, Path target,
            ImagePolicy policy, boolean durable, io.cowherd.CopyProgress progress) {
        writeAtomically(target, tmp -> {
            format.create(tmp, source.size(), options);
            try (VirtualDisk out = format.open(tmp, policy, true, 0)) {
                copyContent(source, out, progress);
                if (durable) {
                    out.flush();
                }
            }
        });
    }

    /** Copies {@code source} into a new image like {@link #copy}, storing every non-zero unit compressed. */
    public static void copyCompressed(VirtualDisk source, ImageFormat format, Map<String, String> options, Path target,
            ImagePolicy policy) {
        writeAtomically(target, tmp -> {
            format.create(tmp, source.size(), options);
            try (VirtualDisk out = format.open(tmp, policy, true, 0)) {
                if (!(out instanceof CompressingDisk c)) {
                    throw new UnsupportedFeatureException(format.name() + " images cannot be compressed (-c)");
                }
                copyUnits(source, null, out, c.compressionUnit(), true);
                out.flush();
            }
        });
    }

    /**
     * Writes {@code source} to a new {@code format} image at {@code target} that holds only what
     * differs from {@code backing} ({@code convert -B}), recording {@code backing} (relative) and
     * its format; with {@code compress}, changed units are stored compressed.
     */
    public static void copyAgainstBacking(VirtualDisk source, ImageFormat format, Path target, Path backing,
            String backingFormat, boolean compress, ImagePolicy policy) {
        if (!(format instanceof OverlayFormat overlay)) {
            throw new UnsupportedFeatureException(format.name() + " images cannot have a backing file (-B)");
        }
        if (backingFormat == null) {
            throw new IllegalArgumentException("state the backing file's format (-F); formats are never guessed");
        }
        writeAtomically(target, tmp -> {
            try (VirtualDisk base = ImageFormats.byName(backingFormat).open(backing, policy, false, 0)) {
                // The overlay lives next to the target, so its relative reference holds after the rename.
                overlay.createOverlay(tmp, backing, backingFormat, source.size());
                try (VirtualDisk out = format.open(tmp, policy.allowingAnyBacking(), true, 0)) {
                    int unit = out instanceof CompressingDisk c ? c.compressionUnit() : DEFAULT_UNIT;
                    copyUnits(source, base, out, unit, compress);
                    out.flush();
                }
            }
        });
    }

    /**
     * Copies {@code source} unit by unit into {@code out}: units equal to {@code base} (or, with
     * no base, all-zero units) are skipped; zero units over a base are written as zeroes.
     */
    private static void copyUnits(VirtualDisk source, VirtualDisk base, VirtualDisk out, int unit, boolean compress)
            throws IOException {
        ByteBuffer mine = ByteBuffer.allocate(unit);
        ByteBuffer theirs = ByteBuffer.allocate(unit);
        for (long pos = 0; pos < source.size(); pos += unit) {
            int len = (int) Math.min(unit, source.size() - pos);
            mine.clear().limit(len);
            source.readFully(mine, pos);
            mine.flip();
            theirs.clear().limit(len);
            if (base != null && pos < base.size()) {
                base.readFully(theirs.slice().limit((int) Math.min(len, base.size() - pos)), pos);
            }
            if (mine.equals(theirs.clear().limit(len))) {
                continue; // same as the base, or zeros over nothing
            }
            if (isZero(mine)) {
                out.writeZeroes(pos, len);
            } else if (compress && len == unit && out instanceof CompressingDisk c) {
                byte[] bytes = new byte[len];
                mine.get(bytes);
                c.writeCompressed(pos, bytes);
            } else {
                out.write(mine, pos);
            }
        }
    }

    /** Runs {@code filler} on a temporary file next to {@code target}, then renames it into place. */
    private static void writeAtomically(Path target, Filler filler) {
        Path tmp = target.toAbsolutePath().getParent().resolve("." + target.getFileName() + ".part");
        try {
            if (Files.exists(target)) {
                throw new VolumeExistsException(target + " already exists; not overwriting it");
            }
            Files.deleteIfExists(tmp);
            filler.fill(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw CowIOException.wrap(target, "writing", e);
        } catch (RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
    }

    /**
     * Copies {@code source} into {@code target} (same size, reading as zeros): holes the source
     * knows of are skipped unread, stored runs are read whole, and of what is read only the
     * runs of {@link #SPARSE_UNIT}s holding a non-zero byte are written.
     */
    public static void copyContent(VirtualDisk source, VirtualDisk target) throws IOException {
        copyContent(source, target, io.cowherd.CopyProgress.NONE);
    }

    /** As {@link #copyContent(VirtualDisk, VirtualDisk)}, telling {@code progress} after each step. */
    public static void copyContent(VirtualDisk source, VirtualDisk target, io.cowherd.CopyProgress progress)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        long size = source.size();
        long pos = 0; // a multiple of SPARSE_UNIT, so units line up with clusters and blocks
        while (pos < size) {
            long hole = source.knownZeroes(pos, size - pos);
            long skip = pos + hole == size ? hole : hole / SPARSE_UNIT * SPARSE_UNIT;
            if (skip > 0) {
                pos += skip; // the target is created all-zero: nothing to read or write
                progress.advanced(pos, size);
                continue;
            }
            // A stored run (a file's data up to its next hole) is read to its end and no further.
            VirtualDisk.Extent run = source.storedAt(pos, CHUNK);
            long want = run == null ? CHUNK : (Math.max(1, run.length()) + SPARSE_UNIT - 1) / SPARSE_UNIT * SPARSE_UNIT;
            buf.clear().limit((int) Math.min(want, size - pos));
            source.readFully(buf, pos);
            writeNonZero(buf.flip(), pos, target);
            pos += buf.limit();
            progress.advanced(pos, size);
        }
    }

    /** Writes {@code buf} at {@code pos}, one write per run of units with a non-zero byte, none for zero units. */
    private static void writeNonZero(ByteBuffer buf, long pos, VirtualDisk target) throws IOException {
        int len = buf.limit();
        int runStart = -1;
        for (int off = 0; off < len; off += SPARSE_UNIT) {
            if (!isZero(buf.slice(off, Math.min(SPARSE_UNIT, len - off)))) {
                if (runStart < 0) {
                    runStart = off;
                }
            } else if (runStart >= 0) {
                target.write(buf.slice(runStart, off - runStart), pos + runStart);
                runStart = -1;
            }
        }
        if (runStart >= 0) {
            target.write(buf.slice(runStart, len - runStart), pos + runStart);
        }
    }

    /** Whether every remaining byte of {@code buf} is zero (position unchanged). */
    public static boolean isZero(ByteBuffer buf) {
        // Eight bytes at a time through a long view, a loop the JIT vectorizes.
        LongBuffer longs = buf.slice().order(ByteOrder.nativeOrder()).asLongBuffer();
        for (int i = 0; i < longs.limit(); i++) {
            if (longs.get(i) != 0) {
                return false;
            }
        }
        for (int i = buf.position() + 8 * longs.limit(); i < buf.limit(); i++) {
            if (buf.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Fills the rest of {@code buf} with zeros. A bulk copy, fast from the first call on: images
     * fill every hole they read this way, long before the JIT would have compiled a loop.
     */
    public static void fillZero(ByteBuffer buf) {
        while (buf.hasRemaining()) {
            buf.put(ZEROS.slice(0, Math.min(buf.remaining(), ZEROS.capacity())));
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: the original error is the one worth reporting
        }
    }
}
