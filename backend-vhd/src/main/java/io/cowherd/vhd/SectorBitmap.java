package io.cowherd.vhd;

/**
 * A block's sector bitmap: bit i (most significant bit first within each byte) set means sector
 * i of the block is stored in this file; clear means it reads from the parent (differencing) or
 * as zeros (dynamic). Instances are immutable snapshots shared through the image's cache.
 */
final class SectorBitmap {
    private final byte[] bits;
    private final int sectors;
    private final boolean full;
    private final boolean empty;

    SectorBitmap(byte[] bits, int sectors) {
        this.bits = bits;
        this.sectors = sectors;
        boolean f = true;
        boolean e = true;
        for (int i = 0; i < sectors; i++) {
            boolean set = isSetRaw(bits, i);
            f &= set;
            e &= !set;
            if (!f && !e) {
                break;
            }
        }
        this.full = f;
        this.empty = e;
    }

    /** A bitmap of {@code bytes} bytes with every bit covering {@code sectors} set. */
    static byte[] allOnes(int bytes, int sectors) {
        byte[] b = new byte[bytes];
        for (int i = 0; i < sectors; i++) {
            b[i >>> 3] |= (byte) (0x80 >>> (i & 7));
        }
        return b;
    }

    private static boolean isSetRaw(byte[] bits, int sector) {
        return (bits[sector >>> 3] & (0x80 >>> (sector & 7))) != 0;
    }

    boolean isSet(int sector) {
        return full || (!empty && isSetRaw(bits, sector));
    }

    boolean isFull() {
        return full;
    }

    /** How many sectors from {@code sector} on (at most {@code max}) share its bit. */
    int runLength(int sector, int max) {
        if (full || empty) {
            return Math.min(max, sectors - sector);
        }
        boolean v = isSetRaw(bits, sector);
        int n = 1;
        while (n < max && sector + n < sectors && isSetRaw(bits, sector + n) == v) {
            n++;
        }
        return n;
    }

    /** Whether sectors {@code from} (inclusive) to {@code to} (exclusive) are all set. */
    boolean allSet(int from, int to) {
        if (full) {
            return true;
        }
        for (int i = from; i < to; i++) {
            if (!isSetRaw(bits, i)) {
                return false;
            }
        }
        return true;
    }

    /** A copy with sectors {@code from} to {@code to} (exclusive) set, as the bytes to write. */
    byte[] withSet(int from, int to) {
        byte[] copy = bits.clone();
        for (int i = from; i < to; i++) {
            copy[i >>> 3] |= (byte) (0x80 >>> (i & 7));
        }
        return copy;
    }

    /** How many sectors are set. */
    int countSet() {
        if (full) {
            return sectors;
        }
        int n = 0;
        for (int i = 0; i < sectors; i++) {
            if (isSetRaw(bits, i)) {
                n++;
            }
        }
        return n;
    }
}
