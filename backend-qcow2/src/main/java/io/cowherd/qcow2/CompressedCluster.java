package io.cowherd.qcow2;

import com.github.luben.zstd.ZstdInputStream;
import io.cowherd.CorruptImageException;
import io.cowherd.UnsupportedFeatureException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * A compressed cluster's L2 descriptor and its data. The descriptor packs a host byte offset in
 * its low {@code 62 - (cluster_bits - 8)} bits and, above it, the number of additional 512-byte
 * sectors the compressed bytes span. The data is raw deflate (compression_type 0) or a zstd
 * stream (1); either may be followed by padding up to the sector end, which is ignored.
 */
final class CompressedCluster {
    static final int TYPE_DEFLATE = 0;
    static final int TYPE_ZSTD = 1;
    private static final int SECTOR = 512;

    final long hostOffset;
    final int length;

    private CompressedCluster(long hostOffset, int length) {
        this.hostOffset = hostOffset;
        this.length = length;
    }

    /** Decodes an L2 entry that has the compressed flag (bit 62). */
    static CompressedCluster of(long entry, int clusterBits) {
        int offsetBits = 62 - (clusterBits - 8);
        long hostOffset = entry & ((1L << offsetBits) - 1);
        long sectors = ((entry & ~(1L << 62 | 1L << 63)) >>> offsetBits) + 1;
        int length = (int) (sectors * SECTOR - (hostOffset & (SECTOR - 1)));
        return new CompressedCluster(hostOffset, length);
    }

    /** The L2 entry for compressed data of {@code length} bytes at {@code hostOffset}. */
    static long entry(long hostOffset, int length, int clusterBits) {
        int offsetBits = 62 - (clusterBits - 8);
        long end = hostOffset + length - 1;
        long extraSectors = end / SECTOR - hostOffset / SECTOR;
        return Qcow2Image.L2_COMPRESSED | (extraSectors << offsetBits) | hostOffset;
    }

    /** Host clusters the compressed bytes touch, first and last inclusive. */
    long firstCluster(int clusterSize) {
        return hostOffset / clusterSize;
    }

    long lastCluster(int clusterSize) {
        return (hostOffset + length - 1) / clusterSize;
    }

    /** Decompresses {@code src} (the compressed bytes, maybe with padding) into all of {@code dst}. */
    static void decompress(Path file, long at, int type, byte[] src, int srcLength, byte[] dst) {
        switch (type) {
            case TYPE_DEFLATE -> inflate(file, at, src, srcLength, dst);
            case TYPE_ZSTD -> unzstd(file, at, src, srcLength, dst);
            default -> throw new UnsupportedFeatureException(file + ": unknown compression_type " + type);
        }
    }

    private static void inflate(Path file, long at, byte[] src, int srcLength, byte[] dst) {
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(src, 0, srcLength);
            int done = 0;
            while (done < dst.length) {
                int n = inflater.inflate(dst, done, dst.length - done);
                if (n == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    throw new CorruptImageException(file, "compressed cluster", at, "deflate data ends after "
                            + done + " of " + dst.length + " bytes");
                }
                done += n;
            }
        } catch (DataFormatException e) {
            throw new CorruptImageException(file, "compressed cluster", at, "invalid deflate data: " + e.getMessage());
        } finally {
            inflater.end();
        }
    }

    private static void unzstd(Path file, long at, byte[] src, int srcLength, byte[] dst) {
        try (InputStream in = new ZstdInputStream(new ByteArrayInputStream(src, 0, srcLength))) {
            int done = 0;
            while (done < dst.length) {
                int n = in.read(dst, done, dst.length - done);
                if (n < 0) {
                    throw new CorruptImageException(file, "compressed cluster", at, "zstd data ends after " + done
                            + " of " + dst.length + " bytes");
                }
                done += n;
            }
        } catch (IOException e) {
            throw new CorruptImageException(file, "compressed cluster", at, "invalid zstd data: " + e.getMessage());
        }
    }

    /** Raw deflate of a cluster, or null when compressing does not save at least a sector. */
    static byte[] deflate(byte[] cluster) {
        Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
        try {
            deflater.setInput(cluster);
            deflater.finish();
            byte[] out = new byte[cluster.length - SECTOR];
            int n = 0;
            while (!deflater.finished() && n < out.length) {
                n += deflater.deflate(out, n, out.length - n);
            }
            if (!deflater.finished()) {
                return null;
            }
            return java.util.Arrays.copyOf(out, n);
        } finally {
            deflater.end();
        }
    }
}
