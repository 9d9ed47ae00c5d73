package io.cowherd.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.Pool;
import io.cowherd.Volume;
import io.cowherd.domain.ClonedDomain;
import io.cowherd.domain.DomainCloneOptions;
import io.cowherd.domain.DomainCloner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import io.cowherd.testkit.PrivateLibvirtd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;
import org.libvirt.StoragePool;
import org.libvirt.StorageVol;

/**
 * Against a real libvirtd ({@code qemu:///system}) of the test's own ({@link PrivateLibvirtd}): qcow2
 * clones made by cowherd in a directory that libvirt manages as a {@code dir} storage pool show
 * up, after a refresh, as ordinary libvirt volumes whose backing store is the master, and domain
 * clones defined through the daemon point at them.
 */
class LibvirtdPoolTest {
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
    void clonesAppearInALibvirtDirPoolWithTheirBackingStore() throws Exception {
        String tag = "cowherd-it-" + UUID.randomUUID().toString().substring(0, 8);
        Path poolDir = Files.createDirectories(dir.resolve("pool"));
        Path raw = dir.resolve("golden.raw");
        Files.write(raw, new byte[2 << 20]);
        Connect conn = new Connect(daemon.uri());
        StoragePool libvirtPool = null;
        List<String> domains = new ArrayList<>();
        try (Pool pool = new Qcow2Backend().openPool(poolDir)) {
            Volume master = pool.importMaster("golden", raw, "raw");
            libvirtPool = conn.storagePoolCreateXML("<pool type='dir'><name>" + tag + "</name><target><path>" + poolDir
                    + "</path></target></pool>", 0);
            String source = tag + "-src";
            conn.domainDefineXML(sourceDomain(source, master.path()));
            domains.add(source);

            List<ClonedDomain> clones = new DomainCloner(conn, pool).cloneDomain(source,
                    DomainCloneOptions.builder().namePattern(tag + "-%d").count(3).build());
            clones.forEach(c -> domains.add(c.name()));
            assertEquals(3, clones.size());

            libvirtPool.refresh(0);
            List<String> volumes = List.of(libvirtPool.listVolumes());
            for (ClonedDomain c : clones) {
                Path disk = c.disks().get(0).path();
                assertEquals(poolDir, disk.getParent());
                assertTrue(volumes.contains(disk.getFileName().toString()), disk + " in " + volumes);
                StorageVol vol = libvirtPool.storageVolLookupByName(disk.getFileName().toString());
                String volXml = vol.getXMLDesc(0);
                assertTrue(volXml.contains("<format type='qcow2'/>"), volXml);
                String backing = volXml.substring(volXml.indexOf("<backingStore>"));
                assertTrue(backing.contains("<path>" + master.path() + "</path>"), volXml);
                assertTrue(backing.contains("<format type='qcow2'/>"), volXml);

                Domain d = conn.domainLookupByName(c.name());
                String xml = d.getXMLDesc(0);
                assertTrue(xml.contains("<source file='" + disk + "'"), xml);
                assertTrue(xml.contains("type='qcow2'"), xml);
                assertEquals(c.uuid().toString(), d.getUUIDString());
            }
            assertEquals(3, new HashSet<>(clones.stream().map(ClonedDomain::uuid).toList()).size());
        } finally {
            for (String name : domains) {
                try {
                    conn.domainLookupByName(name).undefine();
                } catch (LibvirtException e) {
                    // already gone
                }
            }
            if (libvirtPool != null) {
                libvirtPool.destroy();
            }
            conn.close();
        }
    }

    private static String sourceDomain(String name, Path disk) throws IOException {
        return """
                <domain type='qemu'>
                  <name>%s</name>
                  <memory unit='MiB'>256</memory>
                  <vcpu>1</vcpu>
                  <os><type arch='x86_64' machine='pc'>hvm</type></os>
                  <devices>
                    <emulator>/usr/bin/qemu-system-x86_64</emulator>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2'/>
                      <source file='%s'/>
                      <target dev='vda' bus='virtio'/>
                    </disk>
                    <interface type='user'>
                      <mac address='52:54:00:12:34:56'/>
                      <model type='virtio'/>
                    </interface>
                  </devices>
                </domain>
                """.formatted(name, disk);
    }
}
