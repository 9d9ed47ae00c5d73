package io.cowherd.distribution.bundle;

import io.cowherd.distribution.internal.SafeNames;
import java.util.Objects;

/**
 * One file of a bundle, as its manifest records it.
 *
 * @param name the file's name inside the bundle directory (a plain name, no directories)
 * @param role what the file is
 * @param size its size in bytes (apparent size, holes included)
 * @param sha256 SHA-256 of its bytes, lower-case hex
 * @param format image format for disks ({@code raw}, {@code qcow2}, ...), null otherwise
 * @param virtualSize guest-visible size for disks, -1 otherwise
 */
public record BundleFile(String name, FileRole role, long size, String sha256, String format, long virtualSize) {

    /** Checks the fields. */
    public BundleFile {
        SafeNames.checkComponent(name, "bundle file name");
        if (name.equals(BundleManifest.FILE_NAME)) {
            throw new IllegalArgumentException("a bundle file cannot be called " + BundleManifest.FILE_NAME);
        }
        Objects.requireNonNull(role, "role");
        if (size < 0) {
            throw new IllegalArgumentException(name + ": negative size " + size);
        }
        if (sha256 == null || !sha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException(name + ": sha256 must be 64 lower-case hex digits, got " + sha256);
        }
        if (role == FileRole.DISK && (format == null || format.isEmpty())) {
            throw new IllegalArgumentException(name + ": a disk needs its image format");
        }
        if (format != null && !format.matches("[a-z0-9._-]{1,32}")) {
            throw new IllegalArgumentException(name + ": bad format name '" + format + "'");
        }
    }
}
