package io.cowherd.domain;

import java.security.SecureRandom;
import java.util.Collection;
import java.util.HashSet;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Hands out random MAC addresses in QEMU's locally administered range {@code 52:54:00:xx:xx:xx},
 * never one that was {@link #reserve reserved} (the addresses of existing domains) or handed out
 * before. Not thread-safe.
 */
public final class MacAddressAllocator {
    /** The prefix QEMU and libvirt use for generated addresses. */
    public static final String PREFIX = "52:54:00";
    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    /** 2^24 addresses exist; give up long before the space is exhausted. */
    private static final int MAX_ATTEMPTS = 10_000;

    private final Set<String> taken = new HashSet<>();
    private final Random random;

    /** An allocator drawing from a {@link SecureRandom}. */
    public MacAddressAllocator() {
        this(new SecureRandom());
    }

    /** An allocator drawing from {@code random} (tests pass a seeded one). */
    public MacAddressAllocator(Random random) {
        this.random = random;
    }

    /** Marks addresses as in use (case-insensitive); malformed entries are ignored. */
    public void reserve(Collection<String> addresses) {
        for (String a : addresses) {
            String m = a.trim().toLowerCase(Locale.ROOT);
            if (MAC.matcher(m).matches()) {
                taken.add(m);
            }
        }
    }

    /** Whether {@code address} is reserved or was handed out. */
    public boolean isTaken(String address) {
        return taken.contains(address.toLowerCase(Locale.ROOT));
    }

    /** A new, unused address (lower case), now marked as taken. */
    public String allocate() {
        for (int i = 0; i < MAX_ATTEMPTS; i++) {
            String mac = String.format(Locale.ROOT, "%s:%02x:%02x:%02x", PREFIX, random.nextInt(256),
                    random.nextInt(256), random.nextInt(256));
            if (taken.add(mac)) {
                return mac;
            }
        }
        throw new IllegalStateException("no free MAC address with prefix " + PREFIX + " found after "
                + MAX_ATTEMPTS + " attempts (" + taken.size() + " in use)");
    }
}
