package io.cowherd.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.CowException;
import io.cowherd.Volume;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;
import org.w3c.dom.Element;

/**
 * {@link DomainCloner} against real libvirt, in process, on the {@code test:///default} driver
 * (no daemon, no hypervisor). Skipped where libvirt0 is not installed.
 */
class DomainClonerLibvirtTest {
    private static final String SOURCE_UUID = "11111111-2222-3333-4444-555555555555";

    @TempDir
    Path tmp;

    private Connect conn;
    private ClonerFixture fx;

    @BeforeEach
    void setUp() throws Exception {
        Assumptions.assumeTrue(DomainCloner.libvirtAvailable(), "libvirt (libvirt0) is not installed");
        conn = new Connect("test:///default");
        fx = new ClonerFixture(tmp);
    }

    @AfterEach
    void tearDown() throws LibvirtException {
        if (conn == null) {
            return;
        }
        // test:///default is shared by every connection of this process: leave only its own "test".
        for (Domain d : conn.listAllDomains(0)) {
            if (!d.getName().equals("test")) {
                if (d.isActive() == 1) {
                    d.destroy();
                }
                d.undefine();
            }
        }
        conn.close();
    }

    private static DomainCloneOptions webTimes(int n) {
        return DomainCloneOptions.builder().namePattern("web-%02d").count(n).build();
    }

    private List<String> domainNames() throws LibvirtException {
        List<String> names = new ArrayList<>();
        for (Domain d : conn.listAllDomains(0)) {
            names.add(d.getName());
        }
        names.sort(null);
        return names;
    }

    /** MACs of every domain on the connection except {@code except}. */
    private Set<String> macsExcept(String except) throws LibvirtException {
        Set<String> macs = new HashSet<>();
        for (Domain d : conn.listAllDomains(0)) {
            if (!d.getName().equals(except)) {
                macs.addAll(DomainXml.parse(d.getXMLDesc(0)).macAddresses());
            }
        }
        return macs;
    }

    /**
     * Identity through SMBIOS, as libvirt stores it: each clone's serial carries cloud-init's
     * NoCloud source with its own UUID as instance id and its own hostname, its type 11 strings
     * carry the systemd credentials, and {@code <os><smbios mode='sysinfo'/>} hands them to the guest.
     */
    @Test
    void eachCloneGetsItsOwnIdentityThroughSmbios() throws Exception {
        conn.domainDefineXML(fx.sourceXml());
        GuestIdentity identity = GuestIdentity.builder().hostnamePattern("node%d.lab").cloudInit(true)
                .credential("ssh.authorized_keys.root", "ssh-ed25519 AAAAC3 ops@lab").build();
        List<ClonedDomain> clones = new DomainCloner(conn, fx.pool).cloneDomain("src",
                DomainCloneOptions.builder().namePattern("id-%d").count(2).firstIndex(7).identity(identity).build());

        Set<String> serials = new HashSet<>();
        for (ClonedDomain c : clones) {
            String host = "node" + c.name().substring(3) + ".lab";
            assertEquals(host, c.hostname());
            String xml = conn.domainLookupByName(c.name()).getXMLDesc(0);
            DomainXml x = DomainXml.parse(xml);
            assertEquals(Optional.of("ds=nocloud;i=" + c.uuid() + ";h=" + host), x.smbiosSerial(), xml);
            assertEquals(List.of("io.systemd.credential:system.hostname=" + host,
                    "io.systemd.credential:ssh.authorized_keys.root=ssh-ed25519 AAAAC3 ops@lab"), x.oemStrings(), xml);
            assertTrue(xml.contains("<smbios mode='sysinfo'/>"), xml);
            serials.add(x.smbiosSerial().orElseThrow());
        }
        assertEquals(2, serials.size(), "a serial of its own for each clone");
        assertEquals(List.of("node7.lab", "node8.lab"), clones.stream().map(ClonedDomain::hostname).toList());

        assertThrows(IllegalArgumentException.class, () -> GuestIdentity.builder().hostnamePattern("-bad-%d"));
        assertThrows(IllegalArgumentException.class, () -> GuestIdentity.builder().credential("system.hostname", "x"));
        int before = domainNames().size();
        // 63 characters at index 9, 64 at index 10: the second clone's hostname is refused before the first is made.
        DomainCloneOptions tooLong = DomainCloneOptions.builder().namePattern("x-%d").firstIndex(9).count(2).identity(
                GuestIdentity.builder().hostnamePattern("h%d" + "a".repeat(61)).build()).build();
        assertThrows(IllegalArgumentException.class, () -> new DomainCloner(conn, fx.pool).cloneDomain("src", tooLong));
        assertEquals(before, domainNames().size());
    }

    @Test
    void clonesADefinedDomainThreeTimes() throws Exception {
        conn.domainDefineXML(fx.sourceXml());

        List<ClonedDomain> clones = new DomainCloner(conn, fx.pool).cloneDomain("src", webTimes(3));

        assertEquals(3, clones.size());
        assertEquals(List.of("src", "test", "web-01", "web-02", "web-03"), domainNames());
        Set<String> uuids = new HashSet<>();
        Set<String> allMacs = new HashSet<>();
        for (ClonedDomain c : clones) {
            Domain d = conn.domainLookupByName(c.name());
            assertEquals(c.uuid().toString(), d.getUUIDString());
            assertEquals(0, d.isActive());
            DomainXml x = DomainXml.parse(d.getXMLDesc(0));

            assertEquals(c.name(), x.name());
            assertEquals(Optional.of(c.uuid().toString()), x.uuid());
            assertEquals(Optional.of(c.uuid().toString()), x.smbiosUuid());
            assertNotEquals(SOURCE_UUID, c.uuid().toString());
            assertTrue(uuids.add(c.uuid().toString()), "UUIDs distinct");
            assertEquals(Optional.empty(), x.title());
            assertEquals(Optional.empty(), x.id());

            List<String> macs = x.macAddresses();
            assertEquals(2, macs.size());
            assertEquals(c.macs(), macs);
            Set<String> others = macsExcept(c.name());
            for (String m : macs) {
                assertTrue(m.matches("52:54:00(:[0-9a-f]{2}){3}"), m);
                assertFalse(others.contains(m), m + " is used by another domain on the connection");
                assertTrue(allMacs.add(m), "MACs distinct across clones");
            }

            List<DomainDisk> disks = x.disks();
            Volume clone = fx.pool.get(c.name() + "-vda");
            assertEquals(List.of(clone), c.disks());
            DomainDisk vda = disks.get(0);
            assertEquals("vda", vda.targetDev());
            assertEquals("file", vda.type());
            assertEquals(clone.path().toString(), vda.source());
            assertEquals(fx.pool.location(), clone.path().getParent());
            assertEquals("qcow2", vda.driverType());
            assertEquals(fx.master.name(), clone.master());
            assertEquals(fx.shared.toString(), disks.get(1).source());
            assertTrue(disks.get(1).shareable());
            assertEquals(fx.iso.toString(), disks.get(2).source());
            assertEquals("cdrom", disks.get(2).device());

            assertEquals(Optional.of(fx.nvramOf(c.name()).toString()), x.nvramPath());
            assertEquals(Optional.of("/usr/share/OVMF/OVMF_VARS.fd"), x.nvramTemplate());
            assertEquals(ClonerFixture.NVRAM_CONTENT, Files.readString(fx.nvramOf(c.name())));

            Element g = (Element) x.document().getElementsByTagName("graphics").item(0);
            assertEquals("yes", g.getAttribute("autoport"));
            assertNotEquals("5901", g.getAttribute("port"));
            Element tpmBackend = (Element) x.document().getElementsByTagName("backend").item(0);
            assertEquals("emulator", tpmBackend.getAttribute("type"));
            assertEquals(0, tpmBackend.getElementsByTagName("source").getLength());
            // libvirt adds a console that mirrors the serial port: both name the renamed file
            assertEquals(Set.of(tmp + "/" + c.name() + "-serial.log"), new HashSet<>(x.serialFiles()));
            assertFalse(d.getXMLDesc(0).contains("src.agent"));
        }
        // the source is untouched
        DomainXml src = DomainXml.parse(conn.domainLookupByName("src").getXMLDesc(0));
        assertEquals(Optional.of(SOURCE_UUID), src.uuid());
        assertEquals(fx.master.path().toString(), src.disks().get(0).source());
        assertEquals(3, fx.pool.clonesOf("base").size());
    }

    @Test
    void clonesXmlThatIsNotDefinedAndImportsItsDisk() throws Exception {
        Path raw = tmp.resolve("outside.raw");
        TextOverlayFormat.writeRaw(raw, "x".getBytes(StandardCharsets.US_ASCII), 4096);

        List<ClonedDomain> clones = new DomainCloner(conn, fx.pool)
                .cloneXml(fx.sourceXml("golden", raw, "raw"), webTimes(2));

        assertEquals(List.of("test", "web-01", "web-02"), domainNames());
        assertTrue(fx.pool.get("golden-vda").isMaster());
        for (ClonedDomain c : clones) {
            DomainDisk vda = DomainXml.parse(conn.domainLookupByName(c.name()).getXMLDesc(0)).disks().get(0);
            assertEquals(fx.pool.get(c.name() + "-vda").path().toString(), vda.source());
            assertEquals("golden-vda", fx.pool.get(c.name() + "-vda").master());
        }
    }

    @Test
    void startsTheClonesWhenAsked() throws Exception {
        List<ClonedDomain> clones = new DomainCloner(conn, fx.pool).cloneXml(fx.sourceXml(),
                DomainCloneOptions.builder().namePattern("web-%02d").count(2).start(true).build());
        for (ClonedDomain c : clones) {
            assertEquals(1, conn.domainLookupByName(c.name()).isActive(), c.name());
        }
    }

    @Test
    void libvirtRejectingTheXmlLeavesNothingBehind() throws Exception {
        Path raw = tmp.resolve("outside.raw");
        TextOverlayFormat.writeRaw(raw, new byte[0], 4096);
        // Valid XML for us, invalid for libvirt: an unknown disk bus.
        String xml = fx.sourceXml("golden", raw, "raw").replace("bus='virtio'/>\n    </disk>",
                "bus='no-such-bus'/>\n    </disk>");
        assertTrue(xml.contains("no-such-bus"));

        DomainCloneException e = assertThrows(DomainCloneException.class,
                () -> new DomainCloner(conn, fx.pool).cloneXml(xml, webTimes(3)));

        LibvirtFailureException cause = assertInstanceOf(LibvirtFailureException.class, e.getCause());
        assertEquals("web-01", cause.domainName());
        assertEquals("VIR_ERR_XML_ERROR", cause.errorCode());
        assertTrue(cause.getMessage().contains("web-01") && cause.getMessage().contains("test:///default"),
                cause.getMessage());
        assertEquals(List.of(), e.completed());
        assertEquals(List.of("test"), domainNames());
        assertEquals(List.of(), fx.cloneVolumes(), "no leftover clone volumes");
        assertEquals(List.of("base"), fx.masters(), "the master imported for the run is removed again");
        for (String n : List.of("web-01", "web-02", "web-03")) {
            assertFalse(Files.exists(fx.nvramOf(n)), "no leftover NVRAM copy for " + n);
        }
        assertTrue(Files.exists(fx.nvram), "the source NVRAM stays");
    }

    @Test
    void aDefineFailureMidwayRollsBackOnlyThatClone() throws Exception {
        // Someone defines "web-02" on the connection after the names were checked.
        String rogueUuid = UUID.randomUUID().toString();
        SabotagedPool pool = new SabotagedPool(fx.pool, clone -> {
            if (clone.equals("web-02-vda")) {
                try {
                    conn.domainDefineXML("<domain type='test'><name>web-02</name><uuid>" + rogueUuid
                            + "</uuid><memory>1024</memory><os><type>hvm</type></os></domain>");
                } catch (LibvirtException e) {
                    throw new IllegalStateException(e);
                }
            }
        });
        conn.domainDefineXML(fx.sourceXml());

        DomainCloneException e = assertThrows(DomainCloneException.class,
                () -> new DomainCloner(conn, pool).cloneDomain("src", webTimes(3)));

        assertEquals("web-02", e.failedName());
        assertInstanceOf(LibvirtFailureException.class, e.getCause());
        assertEquals(List.of("web-01"), e.completed().stream().map(ClonedDomain::name).toList());
        assertTrue(e.getMessage().contains("kept: [web-01]"), e.getMessage());
        // web-01 stays whole
        assertEquals(List.of("src", "test", "web-01", "web-02"), domainNames());
        assertEquals(List.of("web-01-vda"), fx.cloneVolumes());
        assertTrue(Files.exists(fx.nvramOf("web-01")));
        // the other user's web-02 is not ours to undefine
        assertEquals(rogueUuid, conn.domainLookupByName("web-02").getUUIDString());
        // nothing of our web-02 is left
        assertFalse(Files.exists(fx.nvramOf("web-02")));
        assertFalse(Files.exists(fx.pool.location().resolve("web-02-vda.qcow2")));
    }

    @Test
    void takenNamesAreRefusedOrSkipped() throws Exception {
        conn.domainDefineXML(fx.sourceXml());
        conn.domainDefineXML("<domain type='test'><name>web-01</name><memory>1024</memory>"
                + "<os><type>hvm</type></os></domain>");
        DomainCloner cloner = new DomainCloner(conn, fx.pool);

        CowException e = assertThrows(CowException.class, () -> cloner.cloneDomain("src", webTimes(2)));
        assertTrue(e.getMessage().contains("web-01") && e.getMessage().contains("already defined"), e.getMessage());
        assertEquals(List.of(), fx.cloneVolumes());
        assertEquals(List.of("src", "test", "web-01"), domainNames());

        List<ClonedDomain> clones = cloner.cloneDomain("src", DomainCloneOptions.builder().namePattern("web-%02d")
                .count(2).onNameConflict(DomainCloneOptions.NameConflict.SKIP).build());
        assertEquals(List.of("web-02", "web-03"), clones.stream().map(ClonedDomain::name).toList());
    }

    @Test
    void aRunningSourceIsRefused() throws Exception {
        conn.domainDefineXML(fx.sourceXml()).create();
        CowException e = assertThrows(CowException.class,
                () -> new DomainCloner(conn, fx.pool).cloneDomain("src", webTimes(1)));
        assertTrue(e.getMessage().contains("running"), e.getMessage());
        assertEquals(List.of(), fx.cloneVolumes());
    }

    @Test
    void anUnknownDomainIsALibvirtFailure() {
        LibvirtFailureException e = assertThrows(LibvirtFailureException.class,
                () -> new DomainCloner(conn, fx.pool).cloneDomain("no-such-domain", webTimes(1)));
        assertEquals("VIR_ERR_NO_DOMAIN", e.errorCode());
        assertTrue(e.getMessage().contains("no-such-domain") && e.getMessage().contains("virsh list --all"),
                e.getMessage());
    }

    @Test
    void xmlFilesAreCheckedAgainstTheConnectionToo() throws Exception {
        conn.domainDefineXML("<domain type='test'><name>web-01</name><memory>1024</memory>"
                + "<os><type>hvm</type></os></domain>");
        Path out = tmp.resolve("out");
        List<ClonedDomain> clones = new DomainCloner(conn, fx.pool).cloneToXmlFiles(fx.sourceXml(),
                DomainCloneOptions.builder().namePattern("web-%02d")
                        .onNameConflict(DomainCloneOptions.NameConflict.SKIP).build(), out);
        assertEquals("web-02", clones.get(0).name());
        assertTrue(Files.exists(out.resolve("web-02.xml")));
        assertEquals(List.of("test", "web-01"), domainNames(), "nothing defined");
        // and the written XML is accepted by libvirt as is
        Domain d = conn.domainDefineXML(Files.readString(out.resolve("web-02.xml")));
        assertEquals(clones.get(0).uuid().toString(), d.getUUIDString());
    }

    @Test
    void connectWrapsFailures() {
        LibvirtFailureException e = assertThrows(LibvirtFailureException.class,
                () -> DomainCloner.connect("test:///no/such/file.xml"));
        assertTrue(e.getMessage().contains("test:///no/such/file.xml"), e.getMessage());
    }

    @Test
    void libvirtIsAvailableHere() throws IOException {
        assertTrue(DomainCloner.libvirtAvailable());
    }
}
