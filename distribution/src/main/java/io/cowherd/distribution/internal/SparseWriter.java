package io.cowherd.distribution.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Copies a stream into a new file, leaving runs of zero blocks as holes so sparse images stay
 * sparse, and hashes (SHA-256) every byte on the way.
 */
public final class SparseWriter {
    /** Granularity of hole detection: a file system block. */
    public static final int BLOCK = 4096;
    private static final int BUFFER = 1 << 20;

    private SparseWriter() {
    }

    /** The result of a copy: bytes written (apparent size) and their SHA-256 in hex. */
    public record Result(long size, String sha256) {
    }

    /**
     * Copies at most {@code limit} bytes of {@code in} into {@code target} (created, must not exist),
     * skipping zero blocks.
     */
    public static Result copy(InputStream in, Path target, long limit) throws IOException {
        MessageDigest sha = sha256();
        byte[] buf = new byte[BUFFER];
        long pos = 0;
        try (FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            while (pos < limit) {
                int want = (int) Math.min(buf.length, limit - pos);
                int n = in.readNBytes(buf, 0, want);
                if (n <= 0) {
                    break;
                }
                sha.update(buf, 0, n);
                writeSkippingZeros(out, buf, n, pos);
                pos += n;
            }
            if (out.size() < pos) {
                // extend to the full apparent size, leaving the tail a hole
                out.write(ByteBuffer.allocate(1), pos - 1);
            }
            out.force(true);
        }
        return new Result(pos, HexFormat.of().formatHex(sha.digest()));
    }

    /** Writes {@code n} bytes of {@code buf} at {@code pos}, block by block, skipping all-zero blocks. */
    public static void writeSkippingZeros(FileChannel out, byte[] buf, int n, long pos) throws IOException {
        int runStart = -1;
        for (int off = 0; off < n; off += BLOCK) {
            int len = Math.min(BLOCK, n - off);
            boolean zero = isZero(buf, off, len);
            if (!zero && runStart < 0) {
                runStart = off;
            } else if (zero && runStart >= 0) {
                writeFully(out, ByteBuffer.wrap(buf, runStart, off - runStart), pos + runStart);
                runStart = -1;
            }
        }
        if (runStart >= 0) {
            writeFully(out, ByteBuffer.wrap(buf, runStart, n - runStart), pos + runStart);
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            pos += out.write(b, pos);
        }
    }

    /** Whether bytes {@code [off, off+len)} of {@code b} are all zero. */
    public static boolean isZero(byte[] b, int off, int len) {
        for (int i = off, end = off + len; i < end; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /** A SHA-256 digest (always present in the JDK). */
    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
