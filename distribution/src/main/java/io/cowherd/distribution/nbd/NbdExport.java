package io.cowherd.distribution.nbd;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * One named export of an {@link NbdServer}.
 *
 * @param name the name clients ask for ({@code nbd+unix:///NAME?socket=...}); UTF-8, at most 4096 bytes,
 *        may be empty (the default export)
 * @param description shown by {@code NBD_OPT_LIST} and {@code NBD_INFO_DESCRIPTION}; may be empty
 * @param source the bytes
 */
public record NbdExport(String name, String description, ExportSource source) {
    /** Longest name the protocol lets clients send (proto.md: strings up to 4096 bytes). */
    public static final int MAX_NAME_BYTES = 4096;

    /** Checks the name's length and that nothing is null. */
    public NbdExport {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(source, "source");
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("export name longer than " + MAX_NAME_BYTES + " bytes: "
                    + name.substring(0, 64) + "...");
        }
        if (description.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("description of export '" + name + "' longer than "
                    + MAX_NAME_BYTES + " bytes");
        }
    }
}
