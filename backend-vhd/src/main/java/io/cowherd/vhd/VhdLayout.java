package io.cowherd.vhd;

/** Sizes derived from the on-disk structures: table bytes, bitmap bytes, sector rounding. */
final class VhdLayout {
    static final int SECTOR = 512;

    private VhdLayout() {
    }

    /** Bytes the block allocation table takes on disk: 4 per entry, padded to a sector. */
    static long tableBytes(int maxTableEntries) {
        return roundUp((maxTableEntries & 0xFFFFFFFFL) * 4);
    }

    /** Bytes of sector bitmap in front of each block: one bit per sector, padded to a sector. */
    static int bitmapBytes(int blockSize) {
        return (int) roundUp(blockSize / SECTOR / 8);
    }

    static long roundUp(long bytes) {
        return (bytes + SECTOR - 1) / SECTOR * SECTOR;
    }
}
