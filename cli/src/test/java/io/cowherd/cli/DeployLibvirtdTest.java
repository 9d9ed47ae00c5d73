package io.cowherd.cli;

import static io.cowherd.cli.CliTest.cowherd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cowherd.cli.CliTest.Run;
import io.cowherd.testkit.PrivateLibvirtd;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.Domain;

/**
 * {@code cowherd deploy} against a real libvirtd and QEMU of the test's own ({@link PrivateLibvirtd}):
 * from a torrent that a seed serves to two running domains; a rerun that does nothing (and
 * downloads nothing); a rerun after one domain was undefined that brings it back on its disk;
 * a local bundle whose bytes differ from its manifest, and a pool without room: refused, nothing
 * left behind.
 */
class DeployLibvirtdTest {
    private static PrivateLibvirtd daemon;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @BeforeAll
    static void startDaemon(@TempDir Path daemonDir) throws Exception {
        daemon = PrivateLibvirtd.start(daemonDir);
    }

    @AfterAll
    static void stopDaemon() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    /** A bundle "golden": a 16 MiB raw disk and a QEMU domain (TCG, 128 MiB) that boots from it. */
    private Path bundle() throws Exception {
        // libvirt's QEMU runs as libvirt-qemu: the disks must be readable beyond root.
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path disk = dir.resolve("golden.raw");
        byte[] data = new byte[16 << 20];
        new Random(18).nextBytes(data);
        Files.write(disk, data);
        Path xml = Files.writeString(dir.resolve("golden.xml"), """
                <domain type='qemu'><name>golden</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
                  <os><type arch='x86_64' machine='pc'>hvm</type></os>
                  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
                    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>
                      <target dev='vda' bus='virtio'/></disk>
                    <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>
                  </devices></domain>""".formatted(disk));
        Run r = cowherd("bundle", "create", "--into", dir.resolve("b/golden").toString(), "-f", "raw", "--domain-xml",
                xml.toString(), disk.toString());
        assertEquals(0, r.exit(), r.err());
        return dir.resolve("b/golden");
    }

    private static List<JsonNode> domains(JsonNode report) {
        return StreamSupport.stream(report.get("domains").spliterator(), false).toList();
    }

    @Test
    void aTorrentBecomesRunningDomainsAndARerunCompletesOnlyWhatIsMissing() throws Exception {
        Path b = bundle();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path torrent = dir.resolve("golden.torrent");
        Thread seeder = new Thread(() -> cowherd("seed", b.toString(), "--embedded-tracker", "127.0.0.1:" + port,
                "--bind", "127.0.2.41", "--torrent", torrent.toString()), "cli-seed");
        seeder.setDaemon(true);
        seeder.start();
        for (int i = 0; i < 600 && !Files.exists(torrent); i++) {
            Thread.sleep(50);
        }
        Path small = Files.createDirectories(dir.resolve("small"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", small.toString()).inheritIO().start();
        assertEquals(0, mount.waitFor(), "mount an 8 MiB file system (the tests run as root)");
        try {
            Run full = cowherd("deploy", torrent.toString(), "--pool", small.resolve("pool").toString(), "--count", "1",
                    "--connect", daemon.uri(), "--bind", "127.0.2.42", "--no-seed");
            assertEquals(ExitCodes.NO_SPACE, full.exit(), full.err());
            assertTrue(full.err().contains("nothing was fetched"), full.err());
            try (Stream<Path> left = Files.list(small)) {
                assertEquals(List.of(), left.toList(), "a 16 MiB bundle is refused before anything is fetched or made");
            }
        } finally {
            new ProcessBuilder("umount", small.toString()).inheritIO().start().waitFor();
        }

        Path pool = dir.resolve("pool");
        String[] deploy = {"deploy", torrent.toString(), "--pool", pool.toString(), "--count", "2", "--name-pattern",
            "vm-%d", "--hostname", "vm-%d", "--cloud-init", "--connect", daemon.uri(), "--bind", "127.0.2.42", "--no-seed",
            "--output=json"};

        Run plan = cowherd(Stream.concat(Stream.of(deploy), Stream.of("--dry-run")).toArray(String[]::new));
        assertEquals(0, plan.exit(), plan.err());
        assertTrue(plan.out().contains("\"would-fetch\""), plan.out());
        assertFalse(Files.exists(pool), "a dry run fetches and makes nothing");

        Run first = cowherd(deploy);
        assertEquals(0, first.exit(), first.err());
        assertTrue(first.err().contains("deploy: importing golden.raw as master golden")
                && first.err().contains("deploy: cloning domain vm-2"), "progress on stderr: " + first.err());
        JsonNode r1 = JSON.readTree(first.out());
        assertEquals("import", r1.get("masters").get(0).get("action").asText(), first.out());
        assertEquals(pool.resolve(".bundles/golden").toString(), r1.get("bundle").asText());
        assertEquals(List.of("create", "create"), domains(r1).stream().map(d -> d.get("action").asText()).toList());
        Connect conn = new Connect(daemon.uri());
        try {
            for (JsonNode d : domains(r1)) {
                Domain dom = conn.domainLookupByName(d.get("name").asText());
                assertEquals(1, dom.isActive(), d + " runs under QEMU");
                String xml = dom.getXMLDesc(0);
                assertTrue(xml.contains("ds=nocloud;i=" + d.get("uuid").asText() + ";h=" + d.get("name").asText()), xml);
                dom.free();
            }

            Run again = cowherd(deploy);
            assertEquals(0, again.exit(), again.err());
            JsonNode r2 = JSON.readTree(again.out());
            assertTrue(r2.get("nothing-to-do").asBoolean(), again.out());
            assertEquals(0, r2.get("downloaded").asLong(), "the bundle was there: nothing downloaded");

            Domain vm2 = conn.domainLookupByName("vm-2");
            vm2.destroy();
            vm2.undefine();
            vm2.free();
            Run back = cowherd(deploy);
            assertEquals(0, back.exit(), back.err());
            JsonNode r3 = JSON.readTree(back.out());
            assertEquals(List.of("keep", "take-back"), domains(r3).stream().map(d -> d.get("action").asText()).toList());
            Domain again2 = conn.domainLookupByName("vm-2");
            assertEquals(1, again2.isActive(), "vm-2 runs again");
            assertTrue(again2.getXMLDesc(0).contains(pool.resolve("vm-2-vda.qcow2").toString()), "on the disk it left");
            again2.free();
            Run volumes = cowherd("volumes", pool.toString());
            assertEquals(2, volumes.out().lines().filter(l -> l.contains(" clone ")).count(), volumes.out());
        } finally {
            for (String n : new String[] {"vm-1", "vm-2"}) {
                try {
                    Domain d = conn.domainLookupByName(n);
                    d.destroy();
                    d.free();
                } catch (Exception e) {
                    // not running
                }
            }
            conn.close();
        }
    }

    @Test
    void aBadBundleAndAPoolWithoutRoomAreRefusedLeavingNothing() throws Exception {
        Path fresh = bundle();
        Path b = Files.createDirectories(dir.resolve("bad/golden"));
        try (Stream<Path> files = Files.list(fresh)) {
            for (Path f : files.toList()) {
                Files.copy(f, b.resolve(f.getFileName()));
            }
        }
        try (RandomAccessFile f = new RandomAccessFile(b.resolve("golden.raw").toFile(), "rw")) {
            f.seek(1 << 20);
            f.write(f.read() ^ 1);
        }
        Path pool = dir.resolve("pool-bad");
        Run bad = cowherd("deploy", b.toString(), "--pool", pool.toString(), "--count", "1", "--name-pattern", "bad-%d",
                "--connect", daemon.uri());
        assertEquals(ExitCodes.CORRUPT, bad.exit(), bad.err());
        assertTrue(bad.err().contains("golden.raw"), bad.err());
        assertFalse(Files.exists(pool), "no pool left behind");

        Path small = Files.createDirectories(dir.resolve("small"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", small.toString()).inheritIO().start();
        assertEquals(0, mount.waitFor(), "mount a 4 MiB file system (the tests run as root)");
        try {
            Path inSmall = small.resolve("pool");
            Run full = cowherd("deploy", fresh.toString(), "--pool", inSmall.toString(), "--count", "1", "--name-pattern",
                    "full-%d", "--connect", daemon.uri());
            assertEquals(ExitCodes.NO_SPACE, full.exit(), full.err());
            assertTrue(full.err().contains("nothing was made"), full.err());
            assertFalse(Files.exists(inSmall), "no pool left behind");
        } finally {
            new ProcessBuilder("umount", small.toString()).inheritIO().start().waitFor();
        }
        Connect conn = new Connect(daemon.uri());
        try {
            assertFalse(List.of(conn.listDefinedDomains()).contains("bad-1") || List.of(conn.listDefinedDomains()).contains("full-1"));
        } finally {
            conn.close();
        }
    }
}
