package io.cowherd.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.testkit.kernel.InKernel;
import io.cowherd.VolumeExistsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.StoragePool;

/**
 * The volume group as a libvirt storage pool, against a real libvirtd started inside the kernel:
 * defined on request, refreshed after every change by any pool object (the volume group's tag
 * says which libvirt pool to refresh), thin pools shown through a {@code dir} pool. libvirtd
 * loads only its storage driver here ({@code LIBVIRT_DRIVER_DIR}: QEMU probing would take
 * minutes in User-mode Linux) and is reached at {@code storage:///system}; its configuration
 * directories are tmpfs mounts inside the guest, so nothing is written to the host's /etc.
 */
@InKernel
class LvmLibvirtKernelTest {
    private static final String URI = "storage:///system";
    private static LvmTestbed bed;
    private static Path bedDir;
    private static Process libvirtd;
    private final List<String> vgs = new ArrayList<>();
    private final List<String> libvirtPools = new ArrayList<>();

    @BeforeAll
    static void startLibvirtd() throws IOException, InterruptedException {
        bedDir = Files.createTempDirectory("lvm-libvirt");
        bed = new LvmTestbed(bedDir, 128);
        for (String dir : List.of("/etc/libvirt", "/var/lib/libvirt", "/var/cache/libvirt")) {
            LvmTestbed.sh("mount", "-t", "tmpfs", "tmpfs", dir);
        }
        Path drivers = Files.createDirectories(bedDir.resolve("drivers"));
        Files.createSymbolicLink(drivers.resolve("libvirt_driver_storage.so"),
                Path.of("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_storage.so"));
        ProcessBuilder pb = new ProcessBuilder("/usr/sbin/libvirtd").redirectErrorStream(true)
                .redirectOutput(bedDir.resolve("libvirtd.log").toFile());
        pb.environment().put("LIBVIRT_DRIVER_DIR", drivers.toString());
        libvirtd = pb.start();
        Path socket = Path.of("/run/libvirt/libvirt-sock");
        for (int i = 0; i < 300 && !Files.exists(socket); i++) {
            Thread.sleep(100);
        }
        assertTrue(Files.exists(socket), "libvirtd did not start: " + Files.readString(bedDir.resolve("libvirtd.log")));
    }

    @AfterAll
    static void stopLibvirtd() throws IOException, InterruptedException {
        libvirtd.destroy();
        libvirtd.waitFor();
        for (String dir : List.of("/etc/libvirt", "/var/lib/libvirt", "/var/cache/libvirt")) {
            LvmTestbed.sh("umount", dir);
        }
        bed.close();
        try (var s = Files.walk(bedDir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @AfterEach
    void cleanUp() throws Exception {
        Connect c = new Connect(URI);
        try {
            for (String name : libvirtPools) {
                StoragePool p = c.storagePoolLookupByName(name);
                if (p.isActive() != 0) {
                    p.destroy();
                }
                p.undefine();
            }
        } finally {
            c.close();
        }
        for (String vg : vgs) {
            LvmTestbed.removeVg(vg);
        }
    }

    private static LvmSettings settings() {
        return LvmSettings.defaults().withLibvirtUri(URI);
    }

    /** What libvirt lists, asked on a connection of the test's own (not the pool's). */
    private static List<String> libvirtSees(String pool) throws LibvirtException {
        Connect c = new Connect(URI);
        try {
            StoragePool p = c.storagePoolLookupByName(pool);
            return Arrays.stream(p.listVolumes()).sorted().toList();
        } finally {
            c.close();
        }
    }

    private Path master() throws IOException {
        Path f = bedDir.resolve("master.raw");
        byte[] b = new byte[4 << 20];
        new java.util.Random(3).nextBytes(b);
        Files.write(f, b);
        return f;
    }

    @Test
    void aClassicPoolIsALogicalLibvirtPoolRefreshedAfterEveryChange() throws Exception {
        String vg = bed.newVg();
        vgs.add(vg);
        LvmPool pool = new LvmBackend().openPool(Path.of("/dev", vg), settings());
        pool.importMaster("m", master(), "raw");
        assertEquals(Optional.empty(), pool.libvirtPool());
        pool.defineLibvirtPool("cw-classic");
        libvirtPools.add("cw-classic");
        assertEquals(Optional.of("cw-classic"), pool.libvirtPool());
        assertEquals(List.of("m"), libvirtSees("cw-classic"));
        Connect c = new Connect(URI);
        try {
            String xml = c.storagePoolLookupByName("cw-classic").getXMLDesc(0);
            assertTrue(xml.contains("type='logical'") && xml.contains("<name>" + vg + "</name>"), xml);
            assertTrue(c.storagePoolLookupByName("cw-classic").getAutostart());
        } finally {
            c.close();
        }

        pool.createClones("m", List.of("a", "b"));
        assertEquals(List.of("a", "b", "m"), libvirtSees("cw-classic"), "refreshed after cloning");
        pool.delete("b");
        assertEquals(List.of("a", "m"), libvirtSees("cw-classic"), "refreshed after deleting");

        // Another pool object (another process, another host on shared storage) knows from the tag.
        LvmPool other = new LvmBackend().openPool(Path.of("/dev", vg), settings());
        other.createClone("m", "c");
        assertEquals(List.of("a", "c", "m"), libvirtSees("cw-classic"), "refreshed by a pool that never defined it");
        assertEquals(List.of("a", "c", "m"), other.libvirtVolumes());

        // Defining again is idempotent; the name, taken by a pool that shows something else, is refused.
        pool.defineLibvirtPool("cw-classic");
        Lvm.run("lvcreate", "-q", "-y", "-T", "-L", "16m", vg + "/tp");
        LvmPool thin = new LvmBackend().openPool(Path.of("/dev", vg, "tp"), settings());
        VolumeExistsException e = assertThrows(VolumeExistsException.class, () -> thin.defineLibvirtPool("cw-classic"));
        assertTrue(e.getMessage().contains("cw-classic") && e.getMessage().contains("dir pool"), e.getMessage());
        assertEquals(Optional.empty(), thin.libvirtPool());
        assertThrows(IllegalArgumentException.class, () -> thin.defineLibvirtPool("bad'name"));
    }

    @Test
    void aThinPoolIsADirLibvirtPoolBecauseLogicalPoolsSkipThinVolumes() throws Exception {
        Path loc = bed.newThinPool(64);
        vgs.add(loc.getName(1).toString());
        LvmPool pool = new LvmBackend().openPool(loc, settings());
        pool.importMaster("tm", master(), "raw");
        pool.defineLibvirtPool("cw-thin");
        libvirtPools.add("cw-thin");
        pool.createClones("tm", List.of("ta", "tb"));
        assertEquals(List.of("ta", "tb", "tm"), libvirtSees("cw-thin"));
        Connect c = new Connect(URI);
        try {
            String xml = c.storagePoolLookupByName("cw-thin").getXMLDesc(0);
            assertTrue(xml.contains("type='dir'") && xml.contains("/dev/" + loc.getName(1)), xml);
            String vol = c.storagePoolLookupByName("cw-thin").storageVolLookupByName("ta").getXMLDesc(0);
            assertTrue(vol.contains("<path>/dev/" + loc.getName(1) + "/ta</path>"), vol);
        } finally {
            c.close();
        }
    }
}
