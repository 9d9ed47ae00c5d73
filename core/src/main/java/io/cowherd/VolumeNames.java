package io.cowherd;

import java.util.regex.Pattern;

/**
 * The one rule for volume names in every pool: names become file names, device-mapper names,
 * logical volume names and libvirt names, so they stay plain and short. Backends may refuse more
 * (LVM's reserved words) but never allow more.
 */
public final class VolumeNames {
    /** The longest name allowed; device-mapper names (127 bytes) must also fit a pool's prefix. */
    public static final int MAX_LENGTH = 100;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]{0," + (MAX_LENGTH - 1) + "}");

    private VolumeNames() {
    }

    /** Whether {@code name} is allowed. */
    public static boolean isValid(String name) {
        return name != null && NAME.matcher(name).matches();
    }

    /** @throws IllegalArgumentException naming the rule unless {@code name} is allowed */
    public static void check(String name) {
        if (!isValid(name)) {
            throw new IllegalArgumentException("volume name '" + name + "' is not allowed: use 1-" + MAX_LENGTH
                    + " letters, digits, '.', '_', '+' or '-', starting with a letter or digit");
        }
    }
}
