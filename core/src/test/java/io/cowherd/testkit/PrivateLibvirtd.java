package io.cowherd.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;

/**
 * A real libvirtd of the test's own: its own configuration, state, logs and socket under the
 * test's directory, in a mount namespace of its own so {@code /etc/libvirt}, {@code /run/libvirt}
 * and {@code /var/lib/libvirt} stay the host's, stopped when closed. Connect with {@link #uri()}.
 * Needs root, util-linux's {@code unshare} and libvirt-daemon-system.
 */
public final class PrivateLibvirtd implements AutoCloseable {
    private static final String LIBVIRTD = "/usr/sbin/libvirtd";
    private final Path dir;
    private final Process daemon;

    private PrivateLibvirtd(Path dir, Process daemon) {
        this.dir = dir;
        this.daemon = daemon;
    }

    /** Starts a daemon whose files live in {@code dir} and waits until it answers (30 s at most). */
    public static PrivateLibvirtd start(Path dir) throws IOException, InterruptedException {
        if (!Files.isExecutable(Path.of(LIBVIRTD))) {
            throw new IllegalStateException(LIBVIRTD + " is missing: install the test peers with scripts/install-test-peers.sh");
        }
        Path d = Files.createDirectories(dir.toAbsolutePath());
        for (String sub : List.of("etc", "run", "lib", "log", "cache", "sock")) {
            Files.createDirectories(d.resolve(sub));
        }
        Path conf = d.resolve("libvirtd.conf");
        Files.writeString(conf, "unix_sock_dir = \"" + d.resolve("sock") + "\"\nauth_unix_rw = \"none\"\n"
                + "unix_sock_rw_perms = \"0700\"\nlog_outputs = \"3:file:" + d.resolve("log/libvirtd.log") + "\"\n",
                StandardCharsets.UTF_8);
        // The host's configuration is copied, then every directory libvirtd writes is the test's own.
        // Without /dev/kvm usable by libvirt's QEMU user libvirtd re-probes QEMU on every define; inside
        // the namespace /dev/kvm (if any) is hidden, so it probes once, for TCG, and leaves the host's alone.
        String script = String.join(" && ",
                "cp -a /etc/libvirt/. " + d.resolve("etc"),
                // QEMU's output goes to a file: the host's virtlogd is out of this namespace's /run/libvirt
                "echo 'stdio_handler = \"file\"' >> " + d.resolve("etc/qemu.conf"),
                "mount --bind " + d.resolve("etc") + " /etc/libvirt",
                // libvirtd's service makes /run/libvirt when it starts; where none ever started (a fresh
                // machine or container without systemd) it is missing, and a mount needs its mount point
                "mkdir -p /run/libvirt",
                "mount --bind " + d.resolve("run") + " /run/libvirt",
                "mount --bind " + d.resolve("lib") + " /var/lib/libvirt",
                "mount --bind " + d.resolve("log") + " /var/log/libvirt",
                "mount --bind " + d.resolve("cache") + " /var/cache/libvirt",
                "{ [ ! -e /dev/kvm ] || mount --bind /dev/null /dev/kvm; }",
                "exec " + LIBVIRTD + " -f " + conf + " -p " + d.resolve("run/libvirtd.pid"));
        Process p = new ProcessBuilder("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
                .redirectErrorStream(true).redirectOutput(d.resolve("log/stdout.log").toFile()).start();
        PrivateLibvirtd running = new PrivateLibvirtd(d, p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!running.answers()) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                running.close();
                throw new IllegalStateException("private libvirtd did not answer on " + running.uri() + " within 30 s: "
                        + Files.readString(d.resolve("log/stdout.log")));
            }
            Thread.sleep(100);
        }
        return running;
    }

    /** The URI of this daemon's QEMU driver. */
    public String uri() {
        return "qemu+unix:///system?socket=" + dir.resolve("sock/libvirt-sock");
    }

    private boolean answers() {
        if (!Files.exists(dir.resolve("sock/libvirt-sock"))) {
            return false;
        }
        try {
            new Connect(uri()).close();
            return true;
        } catch (LibvirtException e) {
            return false;
        }
    }

    /** Stops the daemon and whatever it started; its mounts go with its namespace. */
    @Override
    public void close() throws InterruptedException {
        stopGuests();
        daemon.descendants().forEach(ProcessHandle::destroy);
        daemon.destroy();
        if (!daemon.waitFor(20, TimeUnit.SECONDS)) {
            daemon.descendants().forEach(ProcessHandle::destroyForcibly);
            daemon.destroyForcibly();
            daemon.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * Kills the QEMU of every guest this daemon started, by the pid files in its own
     * {@code /run/libvirt/qemu}: libvirtd daemonizes QEMU, so a guest is not a descendant of the
     * daemon and outlives it otherwise (a test that left its guests running leaked them all).
     */
    private void stopGuests() throws InterruptedException {
        List<ProcessHandle> guests = new java.util.ArrayList<>();
        try (java.util.stream.Stream<Path> pids = Files.list(dir.resolve("run/qemu"))) {
            for (Path f : pids.filter(f -> f.getFileName().toString().endsWith(".pid")).toList()) {
                try {
                    ProcessHandle.of(Long.parseLong(Files.readString(f).strip())).ifPresent(guests::add);
                } catch (IOException | NumberFormatException e) {
                    // gone with its guest
                }
            }
        } catch (IOException e) {
            return; // no guest ever ran
        }
        guests.forEach(ProcessHandle::destroy);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (ProcessHandle g : guests) {
            while (g.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            if (g.isAlive()) {
                g.destroyForcibly();
            }
        }
    }
}
