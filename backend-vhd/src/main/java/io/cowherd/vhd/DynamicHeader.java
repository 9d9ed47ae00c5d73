package io.cowherd.vhd;

import io.cowherd.CorruptImageException;
import io.cowherd.ImagePolicy;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The 1024-byte dynamic disk header of dynamic and differencing VHDs: where the block allocation
 * table lies and how big it is, the block size, and for differencing disks the parent's unique
 * id, timestamp, name and locators. Validated at parse time against the footer, the file size
 * and the {@link ImagePolicy} (CVE-2014-0144: block size and table size are bounded and the
 * table must cover the whole disk).
 */
final class DynamicHeader {
    static final int SIZE = 1024;
    static final byte[] COOKIE = "cxsparse".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER_VERSION = 0x00010000;
    static final int DEFAULT_BLOCK_SIZE = 2 << 20;
    /** Largest block size accepted: keeps one block's bitmap and buffers small. */
    static final int MAX_BLOCK_SIZE = 256 << 20;
    static final int LOCATORS_AT = 576;
    static final int PARENT_NAME_AT = 64;
    static final int PARENT_NAME_BYTES = 512;

    long tableOffset;
    int headerVersion;
    int maxTableEntries;
    int blockSize;
    int checksum;
    byte[] parentUuid;
    long parentTimestamp;
    String parentName;
    final ParentLocator[] locators = new ParentLocator[ParentLocator.COUNT];

    private DynamicHeader() {
    }

    /** A new header with an empty (all unallocated) table at {@code tableOffset}. */
    static DynamicHeader create(long tableOffset, long diskSize, int blockSize) {
        DynamicHeader h = new DynamicHeader();
        h.tableOffset = tableOffset;
        h.headerVersion = HEADER_VERSION;
        h.blockSize = blockSize;
        h.maxTableEntries = (int) ((diskSize + blockSize - 1) / blockSize);
        h.parentUuid = new byte[16];
        h.parentName = "";
        Arrays.fill(h.locators, new ParentLocator(0, 0, 0, 0));
        return h;
    }

    /** Checks a block size given by a user or found in a file. */
    static boolean validBlockSize(long blockSize) {
        return blockSize >= 512 && blockSize <= MAX_BLOCK_SIZE && Long.bitCount(blockSize) == 1;
    }

    /** Parses and validates the header read from {@code at} in {@code file}. */
    static DynamicHeader parse(byte[] raw, Path file, long at, VhdFooter footer, long fileSize, ImagePolicy policy) {
        ByteBuffer b = ByteBuffer.wrap(raw);
        for (int i = 0; i < COOKIE.length; i++) {
            if (raw[i] != COOKIE[i]) {
                throw new CorruptImageException(file, "dynamic header cookie", at, "is not 'cxsparse'");
            }
        }
        DynamicHeader h = new DynamicHeader();
        h.checksum = b.getInt(36);
        int computed = VhdFooter.checksum(raw, 36);
        if (computed != h.checksum) {
            throw new CorruptImageException(file, "dynamic header checksum", at + 36, String.format(
                    "is 0x%08x but the header sums to 0x%08x", h.checksum, computed));
        }
        h.tableOffset = b.getLong(16);
        h.headerVersion = b.getInt(24);
        h.maxTableEntries = b.getInt(28);
        h.blockSize = b.getInt(32);
        h.parentUuid = Arrays.copyOfRange(raw, 40, 56);
        h.parentTimestamp = b.getInt(56) & 0xFFFFFFFFL;
        String name = new String(raw, PARENT_NAME_AT, PARENT_NAME_BYTES, StandardCharsets.UTF_16BE);
        int nul = name.indexOf('\0');
        h.parentName = nul >= 0 ? name.substring(0, nul) : name;
        for (int i = 0; i < ParentLocator.COUNT; i++) {
            h.locators[i] = ParentLocator.parse(b, LOCATORS_AT + i * ParentLocator.ENTRY_SIZE);
        }

        if ((h.headerVersion >>> 16) != 1) {
            throw new CorruptImageException(file, "dynamic header header_version", at + 24,
                    String.format("0x%08x is not version 1.x", h.headerVersion));
        }
        if (!validBlockSize(h.blockSize & 0xFFFFFFFFL)) {
            throw new CorruptImageException(file, "dynamic header block_size", at + 32, (h.blockSize & 0xFFFFFFFFL)
                    + " is not a power of two between 512 and " + MAX_BLOCK_SIZE);
        }
        long entries = h.maxTableEntries & 0xFFFFFFFFL;
        if (entries * 4 > policy.maxMetadataBytes()) {
            throw new CorruptImageException(file, "dynamic header max_table_entries", at + 28, entries
                    + " entries (" + entries * 4 + " bytes) exceed the image policy's limit of "
                    + policy.maxMetadataBytes() + " bytes for one table");
        }
        if (entries * h.blockSize < footer.currentSize) {
            throw new CorruptImageException(file, "dynamic header max_table_entries", at + 28, entries
                    + " blocks of " + h.blockSize + " bytes do not cover the disk's " + footer.currentSize
                    + " bytes (CVE-2014-0144)");
        }
        long tableBytes = VhdLayout.tableBytes(h.maxTableEntries);
        if (h.tableOffset < 0 || h.tableOffset % 512 != 0 || h.tableOffset > fileSize - tableBytes) {
            throw new CorruptImageException(file, "dynamic header table_offset", at + 16, h.tableOffset
                    + " is not a sector-aligned offset with room for " + tableBytes + " bytes of table inside the "
                    + "file (" + fileSize + " bytes)");
        }
        if (h.tableOffset < at + SIZE && h.tableOffset + tableBytes > at) {
            throw new CorruptImageException(file, "dynamic header table_offset", at + 16, "the table at "
                    + h.tableOffset + " overlaps the dynamic header at " + at);
        }
        for (int i = 0; i < ParentLocator.COUNT; i++) {
            ParentLocator l = h.locators[i];
            if (l.isKnown()) {
                l.validate(file, at + LOCATORS_AT + (long) i * ParentLocator.ENTRY_SIZE, fileSize);
            }
        }
        return h;
    }

    /** The 1024 bytes of this header, checksum computed. */
    byte[] toBytes() {
        ByteBuffer b = ByteBuffer.allocate(SIZE);
        b.put(COOKIE);
        b.putLong(VhdFooter.NO_DATA_OFFSET);
        b.putLong(tableOffset);
        b.putInt(headerVersion);
        b.putInt(maxTableEntries);
        b.putInt(blockSize);
        b.putInt(0);
        b.put(parentUuid, 0, 16);
        b.putInt((int) parentTimestamp);
        byte[] name = parentName.getBytes(StandardCharsets.UTF_16BE);
        b.put(PARENT_NAME_AT, name, 0, Math.min(name.length, PARENT_NAME_BYTES - 2));
        for (int i = 0; i < ParentLocator.COUNT; i++) {
            locators[i].writeTo(b, LOCATORS_AT + i * ParentLocator.ENTRY_SIZE);
        }
        byte[] raw = b.array();
        checksum = VhdFooter.checksum(raw, 36);
        ByteBuffer.wrap(raw).putInt(36, checksum);
        return raw;
    }

    /** Sectors of sector bitmap in front of each block's data. */
    int bitmapBytes() {
        return VhdLayout.bitmapBytes(blockSize);
    }
}
