package io.cowherd.dmsnapshot;

import io.cowherd.CowException;
import io.cowherd.CowIOException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The libvirt QEMU hook ({@code /etc/libvirt/hooks/qemu}) that activates cowherd's dm-snapshot
 * pools in the {@code prepare begin} phase, so a virtual machine whose disk is a cowherd clone
 * starts after a reboot without anyone running anything first. Activation is idempotent and
 * takes milliseconds per clone. The hook lists its pools in comment lines and is rewritten whole
 * when a pool is added; a hook file that cowherd did not write is never touched.
 */
public final class LibvirtHook {
    /** Where libvirt looks for the hook. */
    public static final Path DEFAULT_HOOK = Path.of("/etc/libvirt/hooks/qemu");
    private static final String MARKER = "# cowherd dm-snapshot activation hook";
    private static final String POOL_LINE = "# cowherd-pool: ";

    private LibvirtHook() {
    }

    /** A command that runs {@link Activate} with this JVM and this class path. */
    public static List<String> defaultCommand() {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), Activate.class.getName());
    }

    /**
     * Writes {@code hook} so that it activates {@code pool} (and the pools it already activated)
     * by running {@code command} followed by the pool directories.
     *
     * @throws CowException if {@code hook} exists and was not written by cowherd
     */
    public static void install(Path hook, Path pool, List<String> command) {
        Set<String> pools = new LinkedHashSet<>();
        try {
            if (Files.exists(hook)) {
                List<String> lines = Files.readAllLines(hook, StandardCharsets.UTF_8);
                if (lines.size() < 2 || !lines.get(1).equals(MARKER)) {
                    throw new CowException(hook + " exists and was not written by cowherd; add a call to `cowherd "
                            + "pool activate " + pool + "` to it for the prepare phase, or move it away");
                }
                for (String l : lines) {
                    if (l.startsWith(POOL_LINE)) {
                        pools.add(l.substring(POOL_LINE.length()));
                    }
                }
            }
            pools.add(pool.toAbsolutePath().normalize().toString());
            Files.createDirectories(hook.toAbsolutePath().getParent());
            Path tmp = hook.resolveSibling("." + hook.getFileName() + ".cowherd-tmp");
            Files.writeString(tmp, script(new ArrayList<>(pools), command), StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.move(tmp, hook, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw CowIOException.wrap(hook, "installing the libvirt hook", e);
        }
    }

    /** The hook script's text. */
    static String script(List<String> pools, List<String> command) {
        StringBuilder sb = new StringBuilder("#!/bin/sh\n").append(MARKER).append('\n');
        sb.append("# Written by cowherd; rewritten when a pool is added. libvirt calls it as: qemu DOMAIN OP SUBOP -\n");
        for (String p : pools) {
            sb.append(POOL_LINE).append(p).append('\n');
        }
        sb.append("if [ \"$2\" = prepare ] && [ \"$3\" = begin ]; then\n  exec");
        for (String c : command) {
            sb.append(' ').append(quote(c));
        }
        for (String p : pools) {
            sb.append(' ').append(quote(p));
        }
        sb.append(" </dev/null\nfi\nexit 0\n");
        return sb.toString();
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
