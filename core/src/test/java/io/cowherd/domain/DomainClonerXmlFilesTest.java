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
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;

/** {@link DomainCloner} without libvirt: disk clones in a real pool, XML written to files. */
class DomainClonerXmlFilesTest {
    @TempDir
    Path tmp;

    private ClonerFixture fx;
    private Path out;

    @BeforeEach
    void setUp() throws IOException {
        fx = new ClonerFixture(tmp);
        out = tmp.resolve("out");
    }

    private static DomainCloneOptions webTimes(int n) {
        return DomainCloneOptions.builder().namePattern("web-%02d").count(n).build();
    }

    @Test
    void threeClonesAreWrittenAndEachFieldIsRewritten() throws IOException {
        List<ClonedDomain> clones = new DomainCloner(null, fx.pool).cloneToXmlFiles(fx.sourceXml(), webTimes(3), out);

        assertEquals(List.of("web-01", "web-02", "web-03"), clones.stream().map(ClonedDomain::name).toList());
        Set<String> uuids = new HashSet<>();
        Set<String> macs = new HashSet<>();
        for (ClonedDomain c : clones) {
            Path file = out.resolve(c.name() + ".xml");
            assertTrue(Files.exists(file), file.toString());
            DomainXml x = DomainXml.read(file);
            assertEquals(c.xml(), Files.readString(file));
            assertEquals(c.name(), x.name());
            assertEquals(Optional.of(c.uuid().toString()), x.uuid());
            assertEquals(Optional.of(c.uuid().toString()), x.smbiosUuid());
            assertTrue(uuids.add(c.uuid().toString()));
            assertNotEquals("11111111-2222-3333-4444-555555555555", c.uuid().toString());
            assertEquals(Optional.empty(), x.title());
            assertEquals(2, x.macAddresses().size());
            assertEquals(c.macs(), x.macAddresses());
            for (String m : x.macAddresses()) {
                assertTrue(m.startsWith("52:54:00:"), m);
                assertNotEquals("52:54:00:11:22:33", m);
                assertTrue(macs.add(m), "MAC repeated: " + m);
            }
            assertEquals(List.of(), x.interfaceTargets());

            // system disk: a clone in the pool, in the backend's format
            Volume vda = fx.pool.get(c.name() + "-vda");
            assertEquals(List.of(vda), c.disks());
            assertEquals("base", vda.master());
            DomainDisk disk = x.disks().get(0);
            assertEquals(vda.path().toString(), disk.source());
            assertTrue(vda.path().startsWith(fx.pool.location()));
            assertEquals("qcow2", disk.driverType());
            assertEquals("file", disk.type());
            assertFalse(c.xml().contains("backingStore"));
            // shared disks untouched
            assertEquals(fx.shared.toString(), x.disks().get(1).source());
            assertEquals(fx.iso.toString(), x.disks().get(2).source());

            // NVRAM copied, template kept
            Path nvram = fx.nvramOf(c.name());
            assertEquals(nvram, c.nvram());
            assertEquals(Optional.of(nvram.toString()), x.nvramPath());
            assertEquals(Optional.of("/usr/share/OVMF/OVMF_VARS.fd"), x.nvramTemplate());
            assertEquals(ClonerFixture.NVRAM_CONTENT, Files.readString(nvram));

            assertEquals(List.of(tmp + "/" + c.name() + "-serial.log"), x.serialFiles());
            assertFalse(c.xml().contains(tmp + "/tpm"), "TPM state dropped");
            assertFalse(c.xml().contains("src.agent"), "agent socket path dropped");
            Element g = (Element) x.document().getElementsByTagName("graphics").item(0);
            assertEquals("yes", g.getAttribute("autoport"));
            assertFalse(g.hasAttribute("port"));
        }
        assertEquals(3, fx.pool.clonesOf("base").size());
        // the clone really is backed by the master
        try (var disk = fx.pool.open("web-02-vda", false)) {
            var buf = java.nio.ByteBuffer.allocate(12);
            disk.readFully(buf, 0);
            assertEquals("master bytes", new String(buf.array(), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void aDiskOutsideThePoolIsImportedAsMasterFirst() throws IOException {
        Path raw = tmp.resolve("outside.raw");
        TextOverlayFormat.writeRaw(raw, "outside".getBytes(StandardCharsets.US_ASCII), 4096);
        String xml = fx.sourceXml("src", raw, "raw");

        List<ClonedDomain> clones = new DomainCloner(null, fx.pool).cloneToXmlFiles(xml, webTimes(2), out);

        Volume imported = fx.pool.get("src-vda");
        assertTrue(imported.isMaster());
        assertEquals(List.of("web-01-vda", "web-02-vda"),
                fx.pool.clonesOf("src-vda").stream().map(Volume::name).toList());
        assertEquals("qcow2", DomainXml.parse(clones.get(0).xml()).disks().get(0).driverType());
        assertTrue(Files.exists(raw), "the original file is left alone");
    }

    @Test
    void aDiskWithoutDriverTypeIsRefusedBeforeAnythingIsMade() throws IOException {
        Path raw = tmp.resolve("outside.raw");
        TextOverlayFormat.writeRaw(raw, new byte[0], 4096);
        String xml = fx.sourceXml("src", raw, null);

        CowException e = assertThrows(CowException.class,
                () -> new DomainCloner(null, fx.pool).cloneToXmlFiles(xml, webTimes(2), out));

        assertTrue(e.getMessage().contains("<driver type>"), e.getMessage());
        assertTrue(e.getMessage().contains("vda"), e.getMessage());
        assertEquals(List.of("base"), fx.masters());
        assertEquals(List.of(), fx.cloneVolumes());
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(fx.nvramOf("web-01")));
    }

    @Test
    void aDiskThatIsAlreadyACloneIsRefused() {
        Volume clone = fx.pool.createClone("base", "existing");
        String xml = fx.sourceXml("src", clone.path(), "qcow2");
        CowException e = assertThrows(CowException.class,
                () -> new DomainCloner(null, fx.pool).cloneToXmlFiles(xml, webTimes(1), out));
        assertTrue(e.getMessage().contains("clone"), e.getMessage());
        assertEquals(List.of("existing"), fx.cloneVolumes());
    }

    @Test
    void aWritableNetworkDiskIsRefused() {
        String xml = fx.sourceXml().replace("<disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>",
                "<disk type='network' device='disk'>\n      <driver name='qemu' type='raw'/>")
                .replace("<shareable/>", "");
        CowException e = assertThrows(CowException.class,
                () -> new DomainCloner(null, fx.pool).cloneToXmlFiles(xml, webTimes(1), out));
        assertTrue(e.getMessage().contains("type='network'"), e.getMessage());
    }

    @Test
    void takenNamesFailUpFrontOrAreSkipped() throws IOException {
        Files.createDirectories(out);
        Files.writeString(out.resolve("web-02.xml"), "<domain/>");
        DomainCloner cloner = new DomainCloner(null, fx.pool);

        CowException e = assertThrows(CowException.class, () -> cloner.cloneToXmlFiles(fx.sourceXml(), webTimes(3), out));
        assertTrue(e.getMessage().contains("web-02.xml"), e.getMessage());
        assertEquals(List.of(), fx.cloneVolumes());

        fx.pool.createClone("base", "web-03-vda"); // a pool volume in the way also counts as taken
        List<ClonedDomain> clones = cloner.cloneToXmlFiles(fx.sourceXml(), DomainCloneOptions.builder()
                .namePattern("web-%02d").count(3).onNameConflict(DomainCloneOptions.NameConflict.SKIP).build(), out);
        assertEquals(List.of("web-01", "web-04", "web-05"), clones.stream().map(ClonedDomain::name).toList());
    }

    @Test
    void aFailureRollsBackThatCloneAndKeepsTheEarlierOnes() throws IOException {
        SabotagedPool pool = new SabotagedPool(fx.pool, clone -> {
            if (clone.equals("web-02-vda")) {
                throw new CowException("simulated failure creating " + clone);
            }
        });

        DomainCloneException e = assertThrows(DomainCloneException.class,
                () -> new DomainCloner(null, pool).cloneToXmlFiles(fx.sourceXml(), webTimes(3), out));

        assertEquals("web-02", e.failedName());
        assertEquals(List.of("web-01"), e.completed().stream().map(ClonedDomain::name).toList());
        assertTrue(e.getMessage().contains("web-01"), e.getMessage());
        assertTrue(e.getCause().getMessage().contains("simulated"));
        assertEquals(List.of("web-01-vda"), fx.cloneVolumes());
        assertTrue(Files.exists(out.resolve("web-01.xml")));
        assertTrue(Files.exists(fx.nvramOf("web-01")));
        assertFalse(Files.exists(out.resolve("web-02.xml")));
        assertFalse(Files.exists(fx.nvramOf("web-02")), "NVRAM copy of the failed clone removed");
        assertFalse(Files.exists(fx.nvramOf("web-03")));
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(1, files.count(), "no partial files left in " + out);
        }
    }

    @Test
    void aFailureOfTheFirstCloneAlsoRemovesTheMasterImportedForIt() throws IOException {
        Path raw = tmp.resolve("outside.raw");
        TextOverlayFormat.writeRaw(raw, new byte[0], 4096);
        SabotagedPool pool = new SabotagedPool(fx.pool, clone -> {
            throw new CowException("simulated failure creating " + clone);
        });

        DomainCloneException e = assertThrows(DomainCloneException.class, () -> new DomainCloner(null, pool)
                .cloneToXmlFiles(fx.sourceXml("src", raw, "raw"), webTimes(2), out));

        assertEquals(List.of(), e.completed());
        assertEquals(List.of("base"), fx.masters());
        assertEquals(List.of(), fx.cloneVolumes());
        assertFalse(Files.exists(fx.nvramOf("web-01")));
    }

    @Test
    void nvramCanGoToAnotherDirectory() throws IOException {
        Path nvdir = tmp.resolve("vars");
        List<ClonedDomain> clones = new DomainCloner(null, fx.pool).cloneToXmlFiles(fx.sourceXml(),
                DomainCloneOptions.builder().namePattern("web-%02d").nvramDirectory(nvdir).build(), out);
        assertEquals(nvdir.resolve("web-01_VARS.fd"), clones.get(0).nvram());
        assertEquals(ClonerFixture.NVRAM_CONTENT, Files.readString(nvdir.resolve("web-01_VARS.fd")));
        assertFalse(Files.exists(fx.nvramOf("web-01")));
    }

    @Test
    void missingNvramIsLeftForLibvirtToCreate() throws IOException {
        Files.delete(fx.nvram);
        ClonedDomain c = new DomainCloner(null, fx.pool).cloneToXmlFiles(fx.sourceXml(), webTimes(1), out).get(0);
        assertEquals(Optional.of(fx.nvramOf("web-01").toString()), DomainXml.parse(c.xml()).nvramPath());
        assertFalse(Files.exists(fx.nvramOf("web-01")));
    }

    @Test
    void cloneXmlNeedsAConnection() {
        DomainCloner cloner = new DomainCloner(null, fx.pool);
        assertThrows(IllegalStateException.class, () -> cloner.cloneXml(fx.sourceXml(), webTimes(1)));
        assertThrows(IllegalStateException.class, () -> cloner.cloneDomain("src", webTimes(1)));
    }

    @Test
    void badCloneNamesAreRefused() {
        DomainCloneOptions slash = DomainCloneOptions.builder().namePattern("../evil-%d").build();
        assertThrows(IllegalArgumentException.class,
                () -> new DomainCloner(null, fx.pool).cloneToXmlFiles(fx.sourceXml(), slash, out));
        assertEquals(List.of(), fx.cloneVolumes());
    }

    @Test
    void aSeedDiskIsWrittenPerCloneAndAttachedReadOnly() throws IOException {
        GuestIdentity id = GuestIdentity.builder().hostnamePattern("web-%02d")
                .seedDisk(NoCloudSeed.builder().sshAuthorizedKey("ssh-ed25519 AAAA k@x").build()).build();
        List<ClonedDomain> clones = new DomainCloner(null, fx.pool).cloneToXmlFiles(fx.sourceXml(),
                DomainCloneOptions.builder().namePattern("web-%02d").count(2).identity(id).build(), out);
        for (ClonedDomain c : clones) {
            Path seed = fx.pool.location().resolve(".seeds/" + c.name() + "-cidata.img");
            assertTrue(Files.isRegularFile(seed), seed.toString());
            DomainDisk disk = DomainXml.parse(c.xml()).disks().stream().filter(d -> seed.toString().equals(d.source()))
                    .findFirst().orElseThrow(() -> new AssertionError("seed disk not attached: " + c.xml()));
            assertTrue(disk.readOnly() && "raw".equals(disk.driverType()) && disk.targetDev().startsWith("vd"), disk.toString());
            assertFalse(DomainXml.parse(fx.sourceXml()).disks().stream().anyMatch(d -> d.targetDev().equals(disk.targetDev())),
                    "a target the source does not use: " + disk.targetDev());
        }
        // the same name again: the seed image is one of the things that make the name taken
        Files.delete(out.resolve("web-01.xml"));
        fx.pool.delete("web-01-vda");
        assertThrows(NameTakenException.class, () -> new DomainCloner(null, fx.pool).cloneToXmlFiles(fx.sourceXml(),
                DomainCloneOptions.builder().namePattern("web-%02d").count(1).identity(id).build(), out));
    }

    @Test
    void identityForASourceWithoutSmbiosIsWarnedAbout() throws IOException {
        String pv = fx.sourceXml().replace(">hvm</type>", ">linux</type>");
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            new DomainCloner(null, fx.pool).cloneToXmlFiles(pv, DomainCloneOptions.builder().namePattern("pv-%d").count(1)
                    .identity(GuestIdentity.builder().cloudInit(true).build()).build(), out);
        } finally {
            System.setErr(err);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("without SMBIOS") && log.contains("cannot reach their guests"), log);
    }
}
