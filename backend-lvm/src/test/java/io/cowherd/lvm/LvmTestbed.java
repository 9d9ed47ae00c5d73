package io.cowherd.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Loop-backed physical volumes made from sparse files, and fresh volume groups (and thin pools)
 * on them. The PVs are made once per test class (each LVM command costs 0.3-0.5 s in User-mode
 * Linux); every test gets a new volume group on them, removed afterwards, and at the end the
 * loops are detached and nothing of ours may remain. Public (in this module's test-jar) for the
 * command line's in-kernel test, which runs its LVM pools on the same recipe.
 */
public final class LvmTestbed implements AutoCloseable {
    private static final AtomicInteger SEQ = new AtomicInteger();
    private final Path dir;
    private final List<String> loops = new ArrayList<>();

    /** Two sparse PVs of {@code mib} MiB each under {@code dir}. */
    public LvmTestbed(Path dir, int mib) throws IOException {
        this.dir = dir;
        for (int i = 0; i < 2; i++) {
            Path f = dir.resolve("pv" + i + ".img");
            try (var raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength((long) mib << 20);
            }
            loops.add(sh("losetup", "-f", "--show", f.toString()).strip());
        }
        List<String> cmd = new ArrayList<>(List.of("pvcreate", "-q", "-y"));
        cmd.addAll(loops);
        Lvm.run(cmd);
    }

    /** A new volume group with 1 MiB extents on both PVs; its name is unique in this run. */
    public String newVg() {
        String vg = "cwt" + ProcessHandle.current().pid() + "x" + SEQ.incrementAndGet();
        List<String> cmd = new ArrayList<>(List.of("vgcreate", "-q", "-y", "-s", "1m", vg));
        cmd.addAll(loops);
        Lvm.run(cmd);
        return vg;
    }

    /** A new volume group with a thin pool {@code tp} of {@code mib} MiB; returns {@code /dev/VG/tp}. */
    public Path newThinPool(int mib) {
        String vg = newVg();
        Lvm.run("lvcreate", "-q", "-y", "-T", "-L", mib + "m", vg + "/tp");
        return Path.of("/dev", vg, "tp");
    }

    /** Removes volume group {@code vg} and everything in it; checks no device of it remains. */
    public static void removeVg(String vg) throws IOException {
        Lvm.run("vgremove", "-q", "-y", "-ff", vg);
        assertEquals(List.of(), mapperDevicesOf(vg), "leaked device-mapper devices of " + vg);
    }

    /** Device-mapper devices whose name starts with {@code vg-} (LVM's naming). */
    public static List<String> mapperDevicesOf(String vg) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/dev/mapper"))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(vg + "-")).sorted().toList();
        }
    }

    @Override
    public void close() throws IOException {
        List<String> cmd = new ArrayList<>(List.of("pvremove", "-q", "-y"));
        cmd.addAll(loops);
        Lvm.run(cmd);
        for (String l : loops) {
            sh("losetup", "-d", l);
        }
        String left = sh("losetup", "-j", dir.resolve("pv0.img").toString()) + sh("losetup", "-j",
                dir.resolve("pv1.img").toString());
        assertEquals("", left.strip(), "leaked loop devices");
    }

    public static String sh(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (p.waitFor() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return out;
    }
}
