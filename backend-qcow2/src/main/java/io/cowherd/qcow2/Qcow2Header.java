package io.cowherd.qcow2;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CorruptImageException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.WrongFormatException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The qcow2 header (cluster 0): fixed fields, header extensions and the backing file name,
 * parsed and validated against the limits QEMU enforces when it opens an image
 * ({@code docs/interop/qcow2.txt}). Every rejection names the field and its offset.
 */
final class Qcow2Header {
    static final int MAGIC = 0x514649fb; // "QFI\xfb"
    static final int V2_LENGTH = 72;
    static final int V3_MIN_LENGTH = 104;
    /** What QEMU 7.2 writes for v3: the compression type byte padded to 8. */
    static final int V3_LENGTH = 112;
    static final int MIN_CLUSTER_BITS = 9;
    static final int MAX_CLUSTER_BITS = 21;
    static final long MAX_L1_BYTES = 32L << 20;
    static final long MAX_REFCOUNT_TABLE_BYTES = 8L << 20;
    static final int MAX_SNAPSHOTS = 65536;
    static final int MAX_BACKING_NAME = 1023;

    static final long INCOMPAT_DIRTY = 1;
    static final long INCOMPAT_CORRUPT = 1 << 1;
    static final long INCOMPAT_DATA_FILE = 1 << 2;
    static final long INCOMPAT_COMPRESSION = 1 << 3;
    static final long INCOMPAT_EXTL2 = 1 << 4;
    static final long INCOMPAT_KNOWN = 0x1f;
    static final long COMPAT_LAZY_REFCOUNTS = 1;

    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xE2792ACA;
    static final int EXT_FEATURE_NAMES = 0x6803f857;
    static final int EXT_BITMAPS = 0x23852875;
    static final int EXT_ENCRYPTION = 0x0537BE77;
    static final int EXT_DATA_FILE = 0x44415441;

    int version;
    long backingFileOffset;
    int backingFileSize;
    int clusterBits;
    long size;
    int cryptMethod;
    int l1Size;
    long l1TableOffset;
    long refcountTableOffset;
    int refcountTableClusters;
    int nbSnapshots;
    long snapshotsOffset;
    long incompatibleFeatures;
    long compatibleFeatures;
    long autoclearFeatures;
    int refcountOrder = 4;
    int headerLength = V2_LENGTH;
    int compressionType;
    String backingFile;
    String backingFormat;
    /** Extensions other than the backing format, verbatim and padded, kept when the header is rewritten. */
    final java.util.List<byte[]> otherExtensions = new java.util.ArrayList<>();

    int clusterSize() {
        return 1 << clusterBits;
    }

    boolean extendedL2() {
        return (incompatibleFeatures & INCOMPAT_EXTL2) != 0;
    }

    /** Bytes of one L2 entry: 8, or 16 with extended L2 (entry plus subcluster bitmap). */
    int l2EntryBytes() {
        return extendedL2() ? 16 : 8;
    }

    /** Entries in one L2 table. */
    int l2Entries() {
        return clusterSize() / l2EntryBytes();
    }

    /** Bytes of guest data one L1 entry maps. */
    long bytesPerL1Entry() {
        return (long) clusterSize() * l2Entries();
    }

    /** L1 entries needed to map {@code size} bytes. */
    static long l1EntriesFor(long size, int clusterBits, int l2Entries) {
        long perL1 = (1L << clusterBits) * l2Entries;
        return (size + perL1 - 1) / perL1;
    }

    /**
     * Parses and validates the header in the first cluster of {@code file}.
     *
     * @throws WrongFormatException if the magic is not qcow2's
     * @throws CorruptImageException naming the field that breaks a limit
     */
    static Qcow2Header read(HostFile file) {
        Path p = file.path();
        long fileSize = file.size();
        if (fileSize < V2_LENGTH) {
            if (fileSize >= 4) {
                ByteBuffer m = ByteBuffer.allocate(4);
                file.readMetadata(m, 0, "magic");
                if (m.getInt(0) != MAGIC) {
                    throw new WrongFormatException(p, "qcow2", "no QFI\\xfb magic");
                }
            }
            throw new CorruptImageException(p, "header", 0, "file is " + fileSize + " bytes, shorter than a qcow2 header");
        }
        ByteBuffer fixed = ByteBuffer.allocate(V3_LENGTH);
        fixed.limit((int) Math.min(V3_LENGTH, fileSize));
        file.readMetadata(fixed, 0, "header");
        fixed.clear();
        Qcow2Header h = new Qcow2Header();
        if (fixed.getInt(0) != MAGIC) {
            throw new WrongFormatException(p, "qcow2", String.format("magic 0x%08x at offset 0", fixed.getInt(0)));
        }
        h.version = fixed.getInt(4);
        if (h.version != 2 && h.version != 3) {
            throw new UnsupportedFeatureException(p + ": qcow2 version " + h.version + " at offset 4 is not supported (2 and 3 are)");
        }
        h.backingFileOffset = fixed.getLong(8);
        h.backingFileSize = fixed.getInt(16);
        h.clusterBits = fixed.getInt(20);
        h.size = fixed.getLong(24);
        h.cryptMethod = fixed.getInt(32);
        h.l1Size = fixed.getInt(36);
        h.l1TableOffset = fixed.getLong(40);
        h.refcountTableOffset = fixed.getLong(48);
        h.refcountTableClusters = fixed.getInt(56);
        h.nbSnapshots = fixed.getInt(60);
        h.snapshotsOffset = fixed.getLong(64);
        if (h.version == 3) {
            if (fileSize < V3_MIN_LENGTH) {
                throw new CorruptImageException(p, "header", 0, "version 3 header needs " + V3_MIN_LENGTH + " bytes, file has " + fileSize);
            }
            h.incompatibleFeatures = fixed.getLong(72);
            h.compatibleFeatures = fixed.getLong(80);
            h.autoclearFeatures = fixed.getLong(88);
            h.refcountOrder = fixed.getInt(96);
            h.headerLength = fixed.getInt(100);
        }
        h.validate(p, fileSize);
        if (h.version == 3 && h.headerLength > V3_MIN_LENGTH) {
            h.compressionType = fixed.get(104) & 0xff; // fields beyond what we read are reserved
        }
        h.readExtensions(file);
        h.readBackingName(file);
        return h;
    }

    private void validate(Path p, long fileSize) {
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw new CorruptImageException(p, "cluster_bits", 20, clusterBits + " is outside " + MIN_CLUSTER_BITS + ".." + MAX_CLUSTER_BITS);
        }
        int cs = clusterSize();
        if (version == 3) {
            if (headerLength < V3_MIN_LENGTH || headerLength % 8 != 0 || headerLength > cs) {
                throw new CorruptImageException(p, "header_length", 100, headerLength + " must be at least " + V3_MIN_LENGTH
                        + ", a multiple of 8 and within the first cluster");
            }
            long unknown = incompatibleFeatures & ~INCOMPAT_KNOWN;
            if (unknown != 0) {
                throw new UnsupportedFeatureException(p + ": unknown incompatible feature bits 0x" + Long.toHexString(unknown)
                        + " in incompatible_features at offset 72; this image needs a newer reader");
            }
            if ((incompatibleFeatures & INCOMPAT_DATA_FILE) != 0) {
                throw new UnsupportedFeatureException(p + ": uses an external data file (incompatible_features bit 2); "
                        + "external data files are refused because they can expose host files (CVE-2024-32498)");
            }
            if (refcountOrder < 0 || refcountOrder > 6) {
                throw new CorruptImageException(p, "refcount_order", 96, refcountOrder + " is outside 0..6");
            }
            if (extendedL2() && clusterBits < 14) {
                throw new CorruptImageException(p, "cluster_bits", 20, "extended L2 entries need clusters of at least 16 KiB");
            }
        }
        if (cryptMethod != 0) {
            throw new UnsupportedFeatureException(p + ": encrypted image (crypt_method " + cryptMethod + " at offset 32); "
                    + "encrypted qcow2 is not supported");
        }
        if (size < 0) {
            throw new CorruptImageException(p, "size", 24, "negative virtual size " + size);
        }
        if (backingFileOffset != 0) {
            if (backingFileOffset < 0 || backingFileOffset > cs || backingFileSize < 0
                    || backingFileSize > MAX_BACKING_NAME || backingFileOffset + backingFileSize > cs) {
                throw new CorruptImageException(p, "backing_file_offset", 8, "backing file name at " + backingFileOffset
                        + " (" + backingFileSize + " bytes) must lie within the first cluster and be at most "
                        + MAX_BACKING_NAME + " bytes");
            }
        }
        if ((long) l1Size * 8 > MAX_L1_BYTES || l1Size < 0) {
            throw new CorruptImageException(p, "l1_size", 36, Integer.toUnsignedString(l1Size) + " entries exceed QEMU's 32 MiB L1 limit");
        }
        long needed = l1EntriesFor(size, clusterBits, l2Entries());
        if (l1Size < needed) {
            throw new CorruptImageException(p, "l1_size", 36, l1Size + " entries cannot map a virtual size of " + size
                    + " bytes (" + needed + " needed)");
        }
        checkAligned(p, "l1_table_offset", 40, l1TableOffset, l1Size > 0);
        checkAligned(p, "refcount_table_offset", 48, refcountTableOffset, true);
        if (refcountTableClusters < 0 || (long) refcountTableClusters * cs > MAX_REFCOUNT_TABLE_BYTES) {
            throw new CorruptImageException(p, "refcount_table_clusters", 56, Integer.toUnsignedString(refcountTableClusters)
                    + " clusters exceed QEMU's 8 MiB refcount table limit");
        }
        if (nbSnapshots < 0 || nbSnapshots > MAX_SNAPSHOTS) {
            throw new CorruptImageException(p, "nb_snapshots", 60, Integer.toUnsignedString(nbSnapshots)
                    + " exceeds QEMU's limit of " + MAX_SNAPSHOTS);
        }
        checkAligned(p, "snapshots_offset", 64, snapshotsOffset, nbSnapshots > 0);
    }

    private void checkAligned(Path p, String field, long at, long value, boolean required) {
        if (value < 0 || (value & (clusterSize() - 1)) != 0 || (required && value == 0)) {
            throw new CorruptImageException(p, field, at, "offset " + value + " is not a non-zero multiple of the cluster size "
                    + clusterSize());
        }
    }

    private void readExtensions(HostFile file) {
        Path p = file.path();
        long start = version == 3 ? headerLength : V2_LENGTH;
        // Extensions end where the backing file name begins, or at the end of cluster 0.
        long end = backingFileOffset != 0 ? backingFileOffset : clusterSize();
        end = Math.min(end, file.size());
        long at = start;
        while (at + 8 <= end) {
            ByteBuffer eh = ByteBuffer.allocate(8);
            file.readMetadata(eh, at, "header extension");
            int type = eh.getInt(0);
            long length = Integer.toUnsignedLong(eh.getInt(4));
            if (type == EXT_END) {
                return;
            }
            long dataEnd = at + 8 + length;
            if (dataEnd > end) {
                throw new CorruptImageException(p, String.format("header extension 0x%08x", type), at,
                        "length " + length + " runs past the header area (ends at " + end + ")");
            }
            switch (type) {
                case EXT_BACKING_FORMAT -> {
                    if (length >= 16) {
                        throw new CorruptImageException(p, "backing format extension", at, "name of " + length
                                + " bytes exceeds QEMU's limit of 15");
                    }
                    ByteBuffer name = ByteBuffer.allocate((int) length);
                    file.readMetadata(name, at + 8, "backing format extension");
                    backingFormat = new String(name.array(), StandardCharsets.US_ASCII);
                }
                case EXT_DATA_FILE -> throw new UnsupportedFeatureException(p + ": external data file extension at offset "
                        + at + "; refused (CVE-2024-32498)");
                case EXT_ENCRYPTION -> throw new UnsupportedFeatureException(p + ": encryption extension at offset " + at
                        + "; encrypted qcow2 is not supported");
                default -> {
                    // Feature names, bitmaps and unknown extensions carry nothing a reader needs,
                    // but a header rewrite must keep them.
                    int padded = (int) (8 + length + ((8 - (length % 8)) % 8));
                    ByteBuffer raw = ByteBuffer.allocate(padded);
                    raw.limit((int) Math.min(padded, end - at));
                    file.readMetadata(raw, at, "header extension");
                    otherExtensions.add(raw.array());
                }
            }
            at = dataEnd + ((8 - (length % 8)) % 8);
        }
    }

    private void readBackingName(HostFile file) {
        if (backingFileOffset == 0 || backingFileSize == 0) {
            return;
        }
        ByteBuffer name = ByteBuffer.allocate(backingFileSize);
        file.readMetadata(name, backingFileOffset, "backing file name");
        backingFile = new String(name.array(), StandardCharsets.UTF_8);
        if (backingFile.indexOf('\0') >= 0) {
            throw new CorruptImageException(file.path(), "backing file name", backingFileOffset, "contains a NUL byte");
        }
    }

    /**
     * Encodes a version 3 header with the backing format extension and backing name, ready to
     * be written at offset 0. Sets {@link #backingFileOffset} and {@link #backingFileSize}.
     */
    ByteBuffer encodeV3() {
        byte[] name = backingFile == null ? new byte[0] : backingFile.getBytes(StandardCharsets.UTF_8);
        byte[] fmt = backingFormat == null ? new byte[0] : backingFormat.getBytes(StandardCharsets.US_ASCII);
        int extBytes = (fmt.length > 0 ? 8 + pad8(fmt.length) : 0) + 8;
        int total = V3_LENGTH + extBytes + name.length;
        if (total > clusterSize()) {
            throw new IllegalArgumentException("backing file name too long for the header cluster");
        }
        ByteBuffer b = ByteBuffer.allocate(total);
        headerLength = V3_LENGTH;
        version = 3;
        backingFileOffset = name.length > 0 ? V3_LENGTH + extBytes : 0;
        backingFileSize = name.length;
        b.putInt(MAGIC).putInt(version).putLong(backingFileOffset).putInt(backingFileSize).putInt(clusterBits)
                .putLong(size).putInt(cryptMethod).putInt(l1Size).putLong(l1TableOffset).putLong(refcountTableOffset)
                .putInt(refcountTableClusters).putInt(nbSnapshots).putLong(snapshotsOffset)
                .putLong(incompatibleFeatures).putLong(compatibleFeatures).putLong(autoclearFeatures)
                .putInt(refcountOrder).putInt(headerLength);
        b.put((byte) compressionType);
        b.position(V3_LENGTH);
        if (fmt.length > 0) {
            b.putInt(EXT_BACKING_FORMAT).putInt(fmt.length).put(fmt);
            b.position(b.position() + pad8(fmt.length) - fmt.length);
        }
        b.putInt(EXT_END).putInt(0);
        b.put(name);
        b.flip();
        return b;
    }

    /**
     * Rewrites the backing reference in place (for rebase and commit): the fixed header as stored,
     * the backing format extension, every other extension verbatim, the end marker and the name,
     * in one write within the first cluster.
     */
    void rewriteBacking(HostFile file, String newBackingFile, String newBackingFormat) throws java.io.IOException {
        int fixedLength = version == 3 ? headerLength : V2_LENGTH;
        ByteBuffer fixed = ByteBuffer.allocate(fixedLength);
        file.readMetadata(fixed, 0, "header");
        byte[] name = newBackingFile == null ? new byte[0] : newBackingFile.getBytes(StandardCharsets.UTF_8);
        byte[] fmt = newBackingFormat == null ? new byte[0] : newBackingFormat.getBytes(StandardCharsets.US_ASCII);
        if (name.length > MAX_BACKING_NAME || fmt.length >= 16) {
            throw new IllegalArgumentException("backing reference too long: " + newBackingFile);
        }
        int ext = (fmt.length > 0 ? 8 + pad8(fmt.length) : 0) + 8;
        for (byte[] e : otherExtensions) {
            ext += e.length;
        }
        int total = fixedLength + ext + name.length;
        if (total > clusterSize()) {
            throw new UnsupportedFeatureException(file.path() + ": the new backing reference does not fit in the header cluster");
        }
        ByteBuffer b = ByteBuffer.allocate(total);
        b.put(fixed.array());
        if (fmt.length > 0) {
            b.putInt(EXT_BACKING_FORMAT).putInt(fmt.length).put(fmt);
            b.position(b.position() + pad8(fmt.length) - fmt.length);
        }
        for (byte[] e : otherExtensions) {
            b.put(e);
        }
        b.putInt(EXT_END).putInt(0);
        long nameOffset = name.length > 0 ? b.position() : 0;
        b.put(name);
        b.putLong(8, nameOffset).putInt(16, name.length);
        b.flip();
        file.write(b, 0);
        backingFile = newBackingFile;
        backingFormat = newBackingFormat;
        backingFileOffset = nameOffset;
        backingFileSize = name.length;
    }

    private static int pad8(int n) {
        return (n + 7) & ~7;
    }
}
