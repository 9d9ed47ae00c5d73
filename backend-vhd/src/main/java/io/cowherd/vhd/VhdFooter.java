package io.cowherd.vhd;

import io.cowherd.CorruptImageException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.UUID;

/**
 * The 512-byte VHD footer (hard disk footer), big-endian, at the end of every VHD file and, for
 * dynamic and differencing disks, copied at offset 0. Parsed and validated field by field; every
 * error names the field and its offset in the file.
 */
final class VhdFooter {
    static final int SIZE = 512;
    static final byte[] COOKIE = "conectix".getBytes(StandardCharsets.US_ASCII);
    static final int TYPE_FIXED = 2;
    static final int TYPE_DYNAMIC = 3;
    static final int TYPE_DIFFERENCING = 4;
    static final int FEATURES_RESERVED = 0x2;
    static final int FORMAT_VERSION = 0x00010000;
    static final long NO_DATA_OFFSET = -1L;
    /** The largest virtual size the specification allows: 2040 GiB. */
    static final long MAX_SIZE = 2040L << 30;
    /**
     * {@code tap\0}, XenServer's blktap: QEMU, Hyper-V and libvhdi then take the size from
     * current_size instead of the (coarser) CHS geometry, so every size we write reads back
     * exactly; an unknown creator makes QEMU truncate to the CHS size.
     */
    static final byte[] CREATOR_APP = {'t', 'a', 'p', 0};
    static final int CREATOR_VERSION = 0x00010003;
    static final byte[] CREATOR_OS = "Lnx ".getBytes(StandardCharsets.US_ASCII);
    /** VHD timestamps count seconds from 2000-01-01T00:00:00Z. */
    static final long EPOCH_2000 = 946684800L;

    int features;
    int formatVersion;
    long dataOffset;
    long timestamp;
    byte[] creatorApp;
    int creatorVersion;
    byte[] creatorOs;
    long originalSize;
    long currentSize;
    int cylinders;
    int heads;
    int sectorsPerTrack;
    int diskType;
    int checksum;
    byte[] uniqueId;
    int savedState;

    private VhdFooter() {
    }

    /** A new footer for a disk of {@code size} bytes (a multiple of 512) of {@code type}. */
    static VhdFooter create(int type, long size, long dataOffset) {
        VhdFooter f = new VhdFooter();
        f.features = FEATURES_RESERVED;
        f.formatVersion = FORMAT_VERSION;
        f.dataOffset = dataOffset;
        f.timestamp = now();
        f.creatorApp = CREATOR_APP.clone();
        f.creatorVersion = CREATOR_VERSION;
        f.creatorOs = CREATOR_OS.clone();
        f.originalSize = size;
        f.currentSize = size;
        int[] chs = geometry(size / 512);
        f.cylinders = chs[0];
        f.heads = chs[1];
        f.sectorsPerTrack = chs[2];
        f.diskType = type;
        f.uniqueId = uuidBytes(UUID.randomUUID());
        return f;
    }

    /** The current time as a VHD timestamp. */
    static long now() {
        return (Instant.now().getEpochSecond() - EPOCH_2000) & 0xFFFFFFFFL;
    }

    static byte[] uuidBytes(UUID u) {
        return ByteBuffer.allocate(16).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits()).array();
    }

    static String uuidString(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b);
        return new UUID(bb.getLong(), bb.getLong()).toString();
    }

    /** Whether {@code buf} (from its position) starts with the footer cookie. */
    static boolean hasCookie(ByteBuffer buf) {
        if (buf.remaining() < COOKIE.length) {
            return false;
        }
        for (int i = 0; i < COOKIE.length; i++) {
            if (buf.get(buf.position() + i) != COOKIE[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * Parses and validates a footer read from {@code at} in {@code file}. The cookie must have
     * been checked by the caller (a missing cookie means "not a VHD", not "corrupt").
     */
    static VhdFooter parse(byte[] raw, Path file, long at) {
        if (raw.length != SIZE) {
            throw new IllegalArgumentException("footer must be 512 bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(raw);
        VhdFooter f = new VhdFooter();
        f.features = b.getInt(8);
        f.formatVersion = b.getInt(12);
        f.dataOffset = b.getLong(16);
        f.timestamp = b.getInt(24) & 0xFFFFFFFFL;
        f.creatorApp = Arrays.copyOfRange(raw, 28, 32);
        f.creatorVersion = b.getInt(32);
        f.creatorOs = Arrays.copyOfRange(raw, 36, 40);
        f.originalSize = b.getLong(40);
        f.currentSize = b.getLong(48);
        f.cylinders = b.getShort(56) & 0xFFFF;
        f.heads = b.get(58) & 0xFF;
        f.sectorsPerTrack = b.get(59) & 0xFF;
        f.diskType = b.getInt(60);
        f.checksum = b.getInt(64);
        f.uniqueId = Arrays.copyOfRange(raw, 68, 84);
        f.savedState = b.get(84) & 0xFF;

        int computed = checksum(raw, 64);
        if (computed != f.checksum) {
            throw new CorruptImageException(file, "footer checksum", at + 64, String.format(
                    "is 0x%08x but the footer sums to 0x%08x", f.checksum, computed));
        }
        if ((f.formatVersion >>> 16) != 1) {
            throw new CorruptImageException(file, "footer file_format_version", at + 12, String.format(
                    "0x%08x is not a version 1.x VHD", f.formatVersion));
        }
        if (f.diskType != TYPE_FIXED && f.diskType != TYPE_DYNAMIC && f.diskType != TYPE_DIFFERENCING) {
            throw new CorruptImageException(file, "footer disk_type", at + 60, "type " + f.diskType
                    + " is not fixed (2), dynamic (3) or differencing (4)");
        }
        if (f.currentSize < 0 || f.currentSize > MAX_SIZE) {
            throw new CorruptImageException(file, "footer current_size", at + 48, f.currentSize
                    + " is outside 0.." + MAX_SIZE + " (the 2040 GiB limit)");
        }
        if (f.currentSize % 512 != 0) {
            throw new CorruptImageException(file, "footer current_size", at + 48, f.currentSize
                    + " is not a multiple of 512");
        }
        if (f.diskType == TYPE_FIXED) {
            if (f.dataOffset != NO_DATA_OFFSET) {
                throw new CorruptImageException(file, "footer data_offset", at + 16, "a fixed disk must have "
                        + "all ones, found " + f.dataOffset);
            }
        } else if (f.dataOffset < 0 || f.dataOffset % 512 != 0) {
            throw new CorruptImageException(file, "footer data_offset", at + 16, f.dataOffset
                    + " is not a sector-aligned offset of the dynamic header");
        }
        return f;
    }

    /** One's complement of the byte sum of {@code raw}, the 4 bytes at {@code skip} read as zero. */
    static int checksum(byte[] raw, int skip) {
        int sum = 0;
        for (int i = 0; i < raw.length; i++) {
            if (i < skip || i >= skip + 4) {
                sum += raw[i] & 0xFF;
            }
        }
        return ~sum;
    }

    /** The 512 bytes of this footer, checksum computed. */
    byte[] toBytes() {
        ByteBuffer b = ByteBuffer.allocate(SIZE);
        b.put(COOKIE);
        b.putInt(features);
        b.putInt(formatVersion);
        b.putLong(dataOffset);
        b.putInt((int) timestamp);
        b.put(creatorApp, 0, 4);
        b.putInt(creatorVersion);
        b.put(creatorOs, 0, 4);
        b.putLong(originalSize);
        b.putLong(currentSize);
        b.putShort((short) cylinders);
        b.put((byte) heads);
        b.put((byte) sectorsPerTrack);
        b.putInt(diskType);
        b.putInt(0);
        b.put(uniqueId, 0, 16);
        b.put((byte) savedState);
        byte[] raw = b.array();
        checksum = checksum(raw, 64);
        ByteBuffer.wrap(raw).putInt(64, checksum);
        return raw;
    }

    /** Sets the size fields (current size and geometry) for a disk of {@code size} bytes. */
    void setSize(long size) {
        currentSize = size;
        int[] chs = geometry(size / 512);
        cylinders = chs[0];
        heads = chs[1];
        sectorsPerTrack = chs[2];
    }

    /**
     * CHS geometry for {@code totalSectors}, the algorithm of the VHD specification's appendix
     * (which QEMU uses too): rounds down, and tops out at 65535 x 16 x 255.
     *
     * @return cylinders, heads, sectors per track
     */
    static int[] geometry(long totalSectors) {
        long total = Math.min(totalSectors, 65535L * 16 * 255);
        int spt;
        int heads;
        long cth;
        if (total >= 65535L * 16 * 63) {
            spt = 255;
            heads = 16;
            cth = total / spt;
        } else {
            spt = 17;
            cth = total / spt;
            heads = (int) ((cth + 1023) / 1024);
            if (heads < 4) {
                heads = 4;
            }
            if (cth >= heads * 1024L || heads > 16) {
                spt = 31;
                heads = 16;
                cth = total / spt;
            }
            if (cth >= heads * 1024L) {
                spt = 63;
                heads = 16;
                cth = total / spt;
            }
        }
        return new int[] {(int) (cth / heads), heads, spt};
    }

    boolean isFixed() {
        return diskType == TYPE_FIXED;
    }

    boolean isDifferencing() {
        return diskType == TYPE_DIFFERENCING;
    }

    String typeName() {
        return switch (diskType) {
            case TYPE_FIXED -> "fixed";
            case TYPE_DYNAMIC -> "dynamic";
            default -> "differencing";
        };
    }
}
