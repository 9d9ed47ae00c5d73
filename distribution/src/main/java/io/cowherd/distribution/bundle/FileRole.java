package io.cowherd.distribution.bundle;

import java.util.Locale;

/** What a file in a bundle is. */
public enum FileRole {
    /** A disk image of the master; carries a format and a virtual size. */
    DISK,
    /** The libvirt domain XML of the master. */
    DOMAIN_XML,
    /** The UEFI variable store (NVRAM) of the master. */
    NVRAM,
    /** The reads a domain made while it booted ({@link BootProfile}), fetched first by streamed fetches. */
    BOOT_PROFILE;

    /** The name used in the manifest ({@code disk}, {@code domain-xml}, {@code nvram}, {@code boot-profile}). */
    public String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The role with the manifest name {@code label}. */
    public static FileRole ofLabel(String label) {
        for (FileRole r : values()) {
            if (r.label().equals(label)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown bundle file role '" + label + "'");
    }
}
