package io.cowherd.distribution.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.OutOfSpaceException;
import io.cowherd.Pool;
import io.cowherd.Pools;
import io.cowherd.VirtualDisk;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.bundle.BundleIntegrityException;
import io.cowherd.distribution.deploy.DeployReport.DomainAction;
import io.cowherd.distribution.deploy.DeployReport.DomainStep;
import io.cowherd.distribution.deploy.DeployReport.MasterAction;
import io.cowherd.domain.DomainXml;
import io.cowherd.domain.GuestIdentity;
import io.cowherd.domain.NameTakenException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.Domain;

/**
 * {@link Deployer} on libvirt's test driver: a full run, a rerun that does nothing, a rerun that
 * brings back an undefined domain on its own disk and starts a stopped one, and the refusals that
 * leave nothing behind (a bundle whose bytes differ from its manifest, a pool without room, a
 * name taken by a domain of someone else's), plus the dry run.
 */
class DeployerTest {
    @TempDir
    Path tmp;

    private Connect conn;

    @BeforeEach
    void open() throws Exception {
        conn = new Connect("test:///default");
    }

    @AfterEach
    void close() throws Exception {
        conn.close();
    }

    /** A bundle "golden" of one 8 MiB raw disk with data and the domain XML that boots from it. */
    private Bundle bundle(String domainName) throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Path disk = src.resolve("golden.raw");
        byte[] data = new byte[8 << 20];
        new Random(18).nextBytes(data);
        Files.write(disk, data);
        Path xml = Files.writeString(src.resolve("golden.xml"), """
                <domain type='kvm'><name>%s</name><memory unit='MiB'>256</memory>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/elsewhere/golden.raw'/>
                      <target dev='vda' bus='virtio'/></disk>
                    <interface type='network'><mac address='52:54:00:aa:bb:01'/><source network='default'/></interface>
                  </devices></domain>""".formatted(domainName));
        return Bundle.builder().disk(disk, "raw").domainXml(xml).create(tmp.resolve("bundles/golden"));
    }

    private Pool pool(Path dir) {
        return Pools.openOrCreate(dir, "qcow2", null);
    }

    private DeployOptions.Builder options(String pattern, int count) {
        return DeployOptions.builder().count(count).namePattern(pattern)
                .identity(GuestIdentity.builder().hostnamePattern(pattern).cloudInit(true).build());
    }

    private boolean defined(String name) {
        try {
            conn.domainLookupByName(name).free();
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void aRerunCompletesWhatIsMissingAndOtherwiseDoesNothing() throws Exception {
        Bundle b = bundle("golden");
        try (Pool pool = pool(tmp.resolve("pool"))) {
            Deployer d = new Deployer(conn, pool);
            DeployReport first = d.deploy(b, options("dep-a%d", 3).build());
            assertEquals(List.of(MasterAction.IMPORT), first.masters().stream().map(DeployReport.MasterStep::action).toList());
            assertEquals("golden", first.masters().get(0).name(), "the master takes the bundle's name");
            assertEquals(List.of("dep-a1", "dep-a2", "dep-a3"), first.domains().stream().map(DomainStep::name).toList());
            for (DomainStep s : first.domains()) {
                assertEquals(DomainAction.CREATE, s.action());
                assertTrue(s.started() && s.running(), s.toString());
                assertEquals(s.name(), s.hostname());
                Domain dom = conn.domainLookupByName(s.name());
                assertEquals(1, dom.isActive(), s.name() + " runs");
                DomainXml xml = DomainXml.parse(dom.getXMLDesc(0));
                Path disk = Path.of(xml.disks().get(0).source());
                assertEquals("golden", pool.volumeAt(disk).orElseThrow().master(), "the disk is a clone of the master");
                assertTrue(dom.getXMLDesc(0).contains("ds=nocloud;i=" + s.uuid()), "identity delivered");
                dom.free();
            }
            assertFalse(first.nothingToDo());

            DeployReport again = d.deploy(b, options("dep-a%d", 3).build());
            assertTrue(again.nothingToDo(), again.toString());
            assertEquals(first.domains().stream().map(DomainStep::uuid).toList(),
                    again.domains().stream().map(DomainStep::uuid).toList(), "the same domains are kept");

            // dep-a2 undefined (its disk stays in the pool, with what the guest wrote), dep-a3 shut off
            Path disk2 = pool.get("dep-a2-vda").path();
            try (VirtualDisk v = pool.open("dep-a2-vda", true)) {
                v.write(ByteBuffer.wrap("the guest's own data".getBytes(StandardCharsets.US_ASCII)), 1 << 20);
            }
            Domain a2 = conn.domainLookupByName("dep-a2");
            a2.destroy();
            a2.undefine();
            Domain a3 = conn.domainLookupByName("dep-a3");
            a3.destroy();
            DeployReport plan = d.deploy(b, options("dep-a%d", 3).dryRun(true).build());
            assertEquals(List.of(DomainAction.KEEP, DomainAction.TAKE_BACK, DomainAction.KEEP),
                    plan.domains().stream().map(DomainStep::action).toList());
            assertFalse(defined("dep-a2"), "a dry run defines nothing");
            assertEquals(0, a3.isActive(), "a dry run starts nothing");

            DeployReport third = d.deploy(b, options("dep-a%d", 3).build());
            assertEquals(List.of(DomainAction.KEEP, DomainAction.TAKE_BACK, DomainAction.KEEP),
                    third.domains().stream().map(DomainStep::action).toList());
            assertEquals(List.of(false, true, true), third.domains().stream().map(DomainStep::started).toList());
            assertEquals(1, a3.isActive(), "the stopped domain was started");
            assertNotEquals(first.domains().get(1).uuid(), third.domains().get(1).uuid(), "a new definition, a new UUID");
            Domain back = conn.domainLookupByName("dep-a2");
            assertEquals(disk2.toString(), DomainXml.parse(back.getXMLDesc(0)).disks().get(0).source(),
                    "defined again on the disk it left");
            try (VirtualDisk v = pool.open("dep-a2-vda", false)) {
                ByteBuffer got = ByteBuffer.allocate(20);
                v.readFully(got, 1 << 20);
                assertEquals("the guest's own data", new String(got.array(), StandardCharsets.US_ASCII));
            }
            assertEquals(1, pool.volumes().stream().filter(io.cowherd.Volume::isMaster).count(), "one master");
            assertEquals(3, pool.clonesOf("golden").size(), "three clones, none made twice");
            back.free();
            a3.free();
        }
    }

    @Test
    void aBundleWhoseBytesDifferFromItsManifestIsRefusedBeforeAnythingIsMade() throws Exception {
        Bundle b = bundle("golden");
        try (RandomAccessFile f = new RandomAccessFile(b.directory().resolve("golden.raw").toFile(), "rw")) {
            f.seek(4096);
            f.write(f.read() ^ 1);
        }
        Path dir = tmp.resolve("pool");
        try (Pool pool = pool(dir)) {
            BundleIntegrityException e = assertThrows(BundleIntegrityException.class,
                    () -> new Deployer(conn, pool).deploy(b, options("dep-b%d", 2).build()));
            assertTrue(e.getMessage().contains("golden.raw"), e.getMessage());
            assertEquals(List.of(), pool.volumes());
        }
        assertFalse(defined("dep-b1") || defined("dep-b2"));
    }

    @Test
    void aNameTakenBySomeoneElsesDomainIsRefusedBeforeAnythingIsMade() throws Exception {
        Bundle b = bundle("golden");
        conn.domainDefineXML("""
                <domain type='kvm'><name>dep-c2</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>
                  <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/other.raw'/>
                    <target dev='vda'/></disk></devices></domain>""").free();
        try (Pool pool = pool(tmp.resolve("pool"))) {
            NameTakenException e = assertThrows(NameTakenException.class,
                    () -> new Deployer(conn, pool).deploy(b, options("dep-c%d", 2).build()));
            assertTrue(e.getMessage().contains("'dep-c2'") && e.getMessage().contains("not a clone of master 'golden'"),
                    e.getMessage());
            assertEquals(List.of(), pool.volumes(), "nothing imported");
        }
        assertFalse(defined("dep-c1"));
    }

    @Test
    void aPoolWithoutRoomIsRefusedBeforeAnythingIsMade() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a small file system needs root");
        Bundle b = bundle("golden");
        Path dir = Files.createDirectories(tmp.resolve("small"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir.toString())
                .inheritIO().start();
        assertEquals(0, mount.waitFor());
        try {
            try (Pool pool = pool(dir)) {
                OutOfSpaceException e = assertThrows(OutOfSpaceException.class,
                        () -> new Deployer(conn, pool).deploy(b, options("dep-d%d", 2).build()));
                assertTrue(e.getMessage().contains("nothing was made") && e.getMessage().contains(dir.toString()),
                        e.getMessage());
                assertEquals(List.of(), pool.volumes());
            }
            assertFalse(defined("dep-d1"));
        } finally {
            new ProcessBuilder("umount", dir.toString()).inheritIO().start().waitFor();
        }
    }
}
