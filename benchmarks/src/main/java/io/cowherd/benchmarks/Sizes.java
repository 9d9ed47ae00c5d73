package io.cowherd.benchmarks;

import java.util.Locale;

/** Parses sizes such as {@code 20G} (binary multiples, as qemu-img does). */
final class Sizes {
    private Sizes() {
    }

    static long parse(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT);
        int unit = "KMGT".indexOf(t.charAt(t.length() - 1));
        if (unit < 0) {
            return Long.parseLong(t);
        }
        return Long.parseLong(t.substring(0, t.length() - 1)) << (10 * (unit + 1));
    }
}
