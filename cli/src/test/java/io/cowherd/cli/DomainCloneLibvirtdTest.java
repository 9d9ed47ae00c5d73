package io.cowherd.cli;

import static io.cowherd.cli.CliTest.cowherd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.cli.CliTest.Run;
import io.cowherd.testkit.PrivateLibvirtd;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;

/**
 * {@code cowherd domain clone} batches against a real libvirtd of the test's own
 * ({@link PrivateLibvirtd}), where defined domains outlive the command: two batches from one
 * golden domain share one master, the second refuses taken names until told to skip them, and
 * every clone is a defined domain whose disk is a clone of that master.
 */
class DomainCloneLibvirtdTest {
    private static PrivateLibvirtd daemon;

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

    @Test
    void twoBatchesFromOneGoldenShareItsMaster() throws Exception {
        // libvirt's QEMU runs as libvirt-qemu: the disks must be readable beyond root.
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path golden = dir.resolve("golden.qcow2");
        CliTest.sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", golden.toString(), "16M");
        Path pool = dir.resolve("pool");
        Connect conn = new Connect(daemon.uri());
        try {
            conn.domainDefineXML("""
                    <domain type='qemu'><name>golden</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
                      <os><type arch='x86_64' machine='pc'>hvm</type></os>
                      <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
                        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>
                          <target dev='vda' bus='virtio'/></disk>
                        <interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>
                      </devices></domain>""".formatted(golden));
            String[] batch = {"domain", "clone", "--connect", daemon.uri(), "--domain", "golden", "--count", "2",
                "--name-pattern", "web-%d", "--pool", pool.toString()};
            Run first = cowherd(batch);
            assertEquals(0, first.exit(), first.err());
            assertTrue(first.out().startsWith("web-1 ") && first.out().contains("\nweb-2 "), first.out());

            Run again = cowherd(batch);
            assertEquals(ExitCodes.CONFLICT, again.exit(), again.err());
            assertTrue(again.err().contains("--skip-taken"), again.err());

            Run skip = cowherd(Stream.concat(Stream.of(batch), Stream.of("--skip-taken")).toArray(String[]::new));
            assertEquals(0, skip.exit(), skip.err());
            assertTrue(skip.out().startsWith("web-3 ") && skip.out().contains("\nweb-4 "), skip.out());

            Set<String> defined = Set.of(conn.listDefinedDomains());
            assertTrue(defined.containsAll(List.of("golden", "web-1", "web-2", "web-3", "web-4")), defined.toString());
            Run volumes = cowherd("volumes", "--output=json", pool.toString());
            var vols = new com.fasterxml.jackson.databind.ObjectMapper().readTree(volumes.out()).get("volumes");
            List<String> masters = Stream.of(vols).flatMap(v -> java.util.stream.StreamSupport.stream(v.spliterator(), false))
                    .filter(v -> v.get("role").asText().equals("master")).map(v -> v.get("name").asText()).toList();
            assertEquals(1, masters.size(), "both batches cloned one master: " + volumes.out());
            for (String name : List.of("web-1", "web-4")) {
                String xml = conn.domainLookupByName(name).getXMLDesc(0);
                Path disk = pool.resolve(name + "-vda.qcow2");
                assertTrue(xml.contains("<source file='" + disk + "'"), xml);
                String info = CliTest.sh(dir, "qemu-img", "info", "-U", disk.toString());
                assertTrue(info.contains("backing file: " + masters.get(0)), info);
            }
            assertTrue(conn.domainLookupByName("golden").getXMLDesc(0).contains("<source file='" + golden + "'"),
                    "the golden domain still boots from its own disk");
        } finally {
            for (String name : conn.listDefinedDomains()) {
                conn.domainLookupByName(name).undefine();
            }
            conn.close();
        }
    }
}
