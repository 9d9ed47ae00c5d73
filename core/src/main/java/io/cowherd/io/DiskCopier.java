package io.cowherd.io;

import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.spi.ImageFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Copies the guest-visible bytes of a disk into a new image of any format, skipping runs of
 * zeros so the result stays sparse. The target is written under a temporary name and renamed
 * into place only when complete, so a failure never leaves a half-written image behind.
 */
public final class DiskCopier {
    private static final int CHUNK = 1 << 20;
    /** Largest stored run handed to the kernel in one go. */
    private static final long CHUNK_EXTENT = 64L << 20;

    private DiskCopier() {
    }

    /** Writes the content of {@code source} to a new {@code format} image at {@code target}. */
    public static void copy(VirtualDisk source, ImageFormat format, Path target, ImagePolicy policy) {
        copy(source, format, java.util.Map.of(), target, policy);
    }

    /**
     * Writes the content of {@code source} to a new {@code format} image at {@code target},
     * created with {@code options} (qemu-img's {@code -o}).
     */
    public static void copy(VirtualDisk source, ImageFormat format, java.util.Map<String, String> options, Path target,
            ImagePolicy policy) {
        copy(source, format, options, target, policy, true);
    }

    /**
     * As {@link #copy(VirtualDisk, ImageFormat, java.util.Map, Path, ImagePolicy)}; {@code durable}
     * says whether to wait for the disk before the rename ({@code false} is qemu-img convert's
     * default behaviour: the data is in the page cache, a power cut can lose it).
     */
    public static void copy(VirtualDisk source, ImageFormat format, java.util.Map<String, String> options, Path target,
            ImagePolicy policy, boolean durable) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = dir.resolve("." + target.getFileName() + ".part");
        try {
            if (Files.exists(target)) {
                throw new io.cowherd.VolumeExistsException(target + " already exists; not overwriting it");
            }
            Files.deleteIfExists(tmp);
            format.create(tmp, source.size(), options);
            try (VirtualDisk out = format.open(tmp, policy, true, 0)) {
                copyContent(source, out);
                if (durable) {
                    out.flush();
                }
            }
            Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw CowIOException.wrap(target, "writing", e);
        } catch (RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
    }

    /**
     * Writes {@code source} to a new {@code format} image at {@code target} that holds only what
     * differs from {@code backing} ({@code convert -B}), recording {@code backing} (relative) and
     * its format; with {@code compress}, changed units are stored compressed.
     */
    public static void copyAgainstBacking(VirtualDisk source, ImageFormat format, Path target, Path backing,
            String backingFormat, boolean compress, ImagePolicy policy) {
        if (!(format instanceof io.cowherd.spi.OverlayFormat overlay)) {
            throw new io.cowherd.UnsupportedFeatureException(format.name() + " images cannot have a backing file (-B)");
        }
        if (backingFormat == null) {
            throw new IllegalArgumentException("state the backing file's format (-F); formats are never guessed");
        }
        Path tmp = target.toAbsolutePath().getParent().resolve("." + target.getFileName() + ".part");
        try (VirtualDisk base = io.cowherd.spi.ImageFormats.byName(backingFormat).open(backing, policy, false, 0)) {
            if (Files.exists(target)) {
                throw new io.cowherd.VolumeExistsException(target + " already exists; not overwriting it");
            }
            Files.deleteIfExists(tmp);
            // The overlay lives next to the target, so the relative reference stays right after the rename.
            overlay.createOverlay(tmp, backing, backingFormat, source.size());
            try (VirtualDisk out = format.open(tmp, policy.allowingAnyBacking(), true, 0)) {
                int unit = out instanceof io.cowherd.spi.CompressingDisk c ? c.compressionUnit() : 64 * 1024;
                ByteBuffer mine = ByteBuffer.allocate(unit);
                ByteBuffer theirs = ByteBuffer.allocate(unit);
                for (long pos = 0; pos < source.size(); pos += unit) {
                    int len = (int) Math.min(unit, source.size() - pos);
                    mine.clear().limit(len);
                    source.readFully(mine, pos);
                    theirs.clear().limit(len);
                    if (pos < base.size()) {
                        base.readFully(theirs.slice().limit((int) Math.min(len, base.size() - pos)), pos);
                    }
                    mine.flip();
                    theirs.clear().limit(len);
                    if (mine.equals(theirs)) {
                        continue;
                    }
                    if (isZero(mine)) {
                        out.writeZeroes(pos, len);
                    } else {
                        writeUnit(out, mine, pos, len == unit && compress);
                    }
                }
                out.flush();
            }
            Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw CowIOException.wrap(target, "writing", e);
        } catch (RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
    }

    /** Copies {@code source} into a new image like {@link #copy}, storing every non-zero unit compressed. */
    public static void copyCompressed(VirtualDisk source, ImageFormat format, java.util.Map<String, String> options,
            Path target, ImagePolicy policy) {
        Path tmp = target.toAbsolutePath().getParent().resolve("." + target.getFileName() + ".part");
        try {
            if (Files.exists(target)) {
                throw new io.cowherd.VolumeExistsException(target + " already exists; not overwriting it");
            }
            Files.deleteIfExists(tmp);
            format.create(tmp, source.size(), options);
            try (VirtualDisk out = format.open(tmp, policy, true, 0)) {
                if (!(out instanceof io.cowherd.spi.CompressingDisk c)) {
                    throw new io.cowherd.UnsupportedFeatureException(format.name() + " images cannot be compressed (-c)");
                }
                int unit = c.compressionUnit();
                ByteBuffer buf = ByteBuffer.allocate(unit);
                for (long pos = 0; pos < source.size(); pos += unit) {
                    int len = (int) Math.min(unit, source.size() - pos);
                    buf.clear().limit(len);
                    source.readFully(buf, pos);
                    buf.flip();
                    if (!isZero(buf)) {
                        writeUnit(out, buf, pos, len == unit);
                    }
                }
                out.flush();
            }
            Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw CowIOException.wrap(target, "writing", e);
        } catch (RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
    }

    private static void writeUnit(VirtualDisk out, ByteBuffer data, long pos, boolean compress) throws IOException {
        if (compress && out instanceof io.cowherd.spi.CompressingDisk c) {
            byte[] bytes = new byte[data.remaining()];
            data.get(bytes);
            c.writeCompressed(pos, bytes);
        } else {
            out.write(data, pos);
        }
    }

    /** Copies every non-zero chunk of {@code source} into {@code target} (same size, zero-filled). */
    public static void copyContent(VirtualDisk source, VirtualDisk target) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        long size = source.size();
        long pos = 0;
        while (pos < size) {
            long hole = source.knownZeroes(pos, size - pos);
            if (hole > 0) {
                pos += hole; // the target is created all-zero: nothing to read or write
                continue;
            }
            VirtualDisk.Extent stored = source.storedAt(pos, Math.min(CHUNK_EXTENT, size - pos));
            if (stored != null) {
                target.writeFrom(stored, pos); // no trip through the heap
                pos += stored.length();
                continue;
            }
            buf.clear();
            buf.limit((int) Math.min(CHUNK, size - pos));
            source.readFully(buf, pos);
            buf.flip();
            if (!isZero(buf)) {
                target.write(buf, pos);
            }
            pos += buf.limit();
        }
    }

    /** Whether every remaining byte of {@code buf} is zero (position unchanged). */
    public static boolean isZero(ByteBuffer buf) {
        int i = buf.position();
        int end = buf.limit();
        for (; i + 8 <= end; i += 8) {
            if (buf.getLong(i) != 0) {
                return false;
            }
        }
        for (; i < end; i++) {
            if (buf.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: the original error is the one worth reporting
        }
    }
}
