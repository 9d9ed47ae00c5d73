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

    /** Copies every non-zero chunk of {@code source} into {@code target} (same size, zero-filled). */
    public static void copyContent(VirtualDisk source, VirtualDisk target) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        long size = source.size();
        for (long pos = 0; pos < size; pos += CHUNK) {
            buf.clear();
            buf.limit((int) Math.min(CHUNK, size - pos));
            source.readFully(buf, pos);
            buf.flip();
            if (!isZero(buf)) {
                target.write(buf, pos);
            }
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
