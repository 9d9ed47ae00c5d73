package io.cowherd.distribution.internal;

import java.net.InetAddress;

/**
 * Which peers are near: the one rule the embedded tracker (whom it tells a peer of) and the initial
 * seeder (whom it sends new pieces) share. Two addresses are in the same rack when they share the
 * asker's rack prefix: /24 for IPv4, /64 for IPv6, the subnet one switch or one L2 segment usually
 * holds (the two-rack testbed numbers its racks so; an IPv6 subnet is a /64 by convention). Addresses
 * of two families are never in the same rack.
 */
public final class Locality {
    /** Leading bits two IPv4 addresses of one rack share. */
    public static final int RACK_BITS_V4 = 24;
    /** Leading bits two IPv6 addresses of one rack share. */
    public static final int RACK_BITS_V6 = 64;

    private Locality() {
    }

    /** Leading bits two addresses (4 or 16 bytes) share; 0 between IPv4 and IPv6. */
    public static int commonPrefixBits(byte[] a, byte[] b) {
        if (a.length != b.length) {
            return 0;
        }
        int bits = 0;
        for (int i = 0; i < a.length; i++) {
            int x = (a[i] ^ b[i]) & 0xff;
            if (x != 0) {
                return bits + Integer.numberOfLeadingZeros(x) - 24;
            }
            bits += 8;
        }
        return bits;
    }

    /** The prefix length that makes a rack for an address of {@code length} bytes (4: IPv4, else IPv6). */
    public static int rackBits(int length) {
        return length == 4 ? RACK_BITS_V4 : RACK_BITS_V6;
    }

    /** Whether {@code a} and {@code b} are in the same rack (share {@link #rackBits} leading bits). */
    public static boolean sameRack(byte[] a, byte[] b) {
        return a.length == b.length && commonPrefixBits(a, b) >= rackBits(a.length);
    }

    /** {@link #sameRack(byte[], byte[])} for two addresses; false if either is missing. */
    public static boolean sameRack(InetAddress a, InetAddress b) {
        return a != null && b != null && sameRack(a.getAddress(), b.getAddress());
    }
}
