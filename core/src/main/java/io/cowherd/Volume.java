package io.cowherd;

import java.nio.file.Path;

/**
 * One volume recorded in a {@link Pool}: a master or a clone of one.
 *
 * @param name the volume's name inside its pool
 * @param role master, clone or standalone
 * @param master for a clone, the name of its master; null for a master
 * @param path the image file or block device that holds the volume
 * @param format the image format ({@code qcow2}, {@code vhd}, {@code raw}, ...)
 */
public record Volume(String name, Role role, String master, Path path, String format) {

    /** The part a volume plays in its pool. */
    public enum Role {
        /** A read-only image that clones are made from. */
        MASTER,
        /** A copy-on-write clone of a master. */
        CLONE,
        /** A writable volume of its own, with no master (a flattened clone). */
        STANDALONE
    }

    /** Whether this is a master. */
    public boolean isMaster() {
        return role == Role.MASTER;
    }
}
