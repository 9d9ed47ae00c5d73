package io.cowherd.distribution.internal;

import io.cowherd.PolicyViolationException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;

/** Checks on names that come from untrusted input (archives, metainfo) before they touch the disk. */
public final class SafeNames {
    private SafeNames() {
    }

    /**
     * Checks one path component: not empty, not {@code .} or {@code ..}, no separator, no NUL or
     * control character, no drive letter.
     *
     * @param what what the name is, for the message (for example "torrent file name")
     */
    public static String checkComponent(String component, String what) {
        if (component == null || component.isEmpty() || component.equals(".") || component.equals("..")
                || component.indexOf('/') >= 0 || component.indexOf('\\') >= 0 || component.indexOf(':') >= 0
                || component.chars().anyMatch(c -> c < 0x20 || c == 0x7f) || component.length() > 255) {
            throw new PolicyViolationException(what + " '" + printable(component)
                    + "' is not a plain file name (empty, '.', '..', a separator, a drive or a control character); refusing it");
        }
        return component;
    }

    /**
     * Resolves relative components under {@code root} and checks the result stays inside it and that
     * no existing part of the way (below {@code root}) is a symbolic link.
     */
    public static Path resolveInside(Path root, List<String> components, String what) {
        if (components.isEmpty()) {
            throw new PolicyViolationException(what + " has an empty path; refusing it");
        }
        Path base = root.toAbsolutePath().normalize();
        Path p = base;
        for (String c : components) {
            p = p.resolve(checkComponent(c, what));
            if (Files.isSymbolicLink(p)) {
                throw new PolicyViolationException(what + " '" + String.join("/", components) + "' passes through the symbolic link "
                        + p + "; refusing to follow links out of " + base);
            }
        }
        if (!p.normalize().startsWith(base) || p.equals(base)) {
            throw new PolicyViolationException(what + " '" + String.join("/", components) + "' escapes " + base);
        }
        return p;
    }

    /** Whether {@code p} exists without following a final symbolic link. */
    public static boolean existsNoFollow(Path p) {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }

    /** Deletes a file or a directory tree, quietly; for cleaning up temporary results. */
    public static void deleteTreeQuietly(Path p) {
        if (p == null || !existsNoFollow(p)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(x -> {
                try {
                    Files.deleteIfExists(x);
                } catch (IOException e) {
                    // best effort
                }
            });
        } catch (IOException | RuntimeException e) {
            // best effort
        }
    }

    private static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder();
        for (char ch : s.toCharArray()) {
            b.append(ch < 0x20 || ch == 0x7f ? String.format("\\x%02x", (int) ch) : String.valueOf(ch));
        }
        return b.toString();
    }
}
