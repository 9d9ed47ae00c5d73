package io.cowherd.internal.nbd;

import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An NBD export on a Unix socket as QEMU names it in a backing reference:
 * {@code nbd+unix:///EXPORT?socket=/ABSOLUTE/PATH}. Only this exact shape is recognised (no
 * host, no other query parameters, no percent-encoding): it is the one cowherd writes, and a
 * reference that merely resembles it is refused like any other protocol.
 *
 * @param export the export's name
 * @param socket the server's socket, absolute and normalised
 */
public record NbdUri(String export, Path socket) {
    private static final Pattern SHAPE = Pattern.compile("nbd\\+unix:///([A-Za-z0-9._+-]+)\\?socket=(/[^?&%#]+)");

    public NbdUri {
        if (!export.matches("[A-Za-z0-9._+-]+")) {
            throw new IllegalArgumentException("export name '" + export + "' has characters cowherd does not write");
        }
        socket = socket.toAbsolutePath().normalize();
    }

    /** The reference parsed, or empty when it is not exactly of the shape above. */
    public static Optional<NbdUri> parse(String reference) {
        Matcher m = SHAPE.matcher(reference);
        if (!m.matches()) {
            return Optional.empty();
        }
        Path socket = Path.of(m.group(2));
        if (!socket.normalize().toString().equals(m.group(2))) {
            return Optional.empty(); // "..", "//" or a trailing slash: not a name cowherd writes
        }
        return Optional.of(new NbdUri(m.group(1), socket));
    }

    @Override
    public String toString() {
        return "nbd+unix:///" + export + "?socket=" + socket;
    }
}
