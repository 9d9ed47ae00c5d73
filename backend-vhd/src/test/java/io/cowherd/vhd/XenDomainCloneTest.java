package io.cowherd.vhd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.CowException;
import io.cowherd.Pool;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.domain.ClonedDomain;
import io.cowherd.domain.DomainCloneOptions;
import io.cowherd.domain.DomainCloner;
import io.cowherd.domain.DomainXml;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

/**
 * Cloning a Xen domain onto a vhd pool: every clone's disk is a VHD differencing clone written
 * as {@code <driver name='tap' type='vhd'/>}, the driver libvirt's libxl driver hands to blktap;
 * checked on libvirt's {@code test:///default} (no Xen host runs here) and as XML files.
 */
class XenDomainCloneTest {
    private static final int SIZE = 2 * 1024 * 1024;

    @TempDir
    Path dir;
    private Pool pool;
    private Volume master;
    private byte[] content;

    @BeforeEach
    void setUp() throws IOException {
        pool = new VhdBackend().openPool(dir.resolve("pool"));
        content = new byte[SIZE];
        new Random(3).nextBytes(content);
        Path raw = dir.resolve("golden.raw");
        Files.write(raw, content);
        master = pool.importMaster("golden", raw, "raw");
    }

    @AfterEach
    void tearDown() {
        pool.close();
    }

    private String xml(String type) {
        return """
                <domain type='%s'>
                  <name>xen-golden</name>
                  <uuid>11111111-2222-3333-4444-555555555555</uuid>
                  <memory unit='KiB'>524288</memory>
                  <vcpu>1</vcpu>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='vpc'/>
                      <source file='%s'/>
                      <target dev='xvda' bus='xen'/>
                    </disk>
                    <interface type='bridge'><mac address='00:16:3e:11:22:33'/><source bridge='xenbr0'/></interface>
                  </devices>
                </domain>
                """.formatted(type, master.path());
    }

    /** The {@code <driver>} and {@code <source file>} of the domain's only disk. */
    private static String[] disk(String xml) throws Exception {
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
        NodeList disks = doc.getElementsByTagName("disk");
        assertEquals(1, disks.getLength());
        Element d = (Element) disks.item(0);
        Element driver = (Element) d.getElementsByTagName("driver").item(0);
        Element source = (Element) d.getElementsByTagName("source").item(0);
        return new String[] {driver.getAttribute("name"), driver.getAttribute("type"), source.getAttribute("file"),
                d.getAttribute("type"), doc.getDocumentElement().getAttribute("type")};
    }

    private void assertClone(ClonedDomain c, String xml) throws Exception {
        String[] d = disk(xml);
        assertEquals("tap", d[0], "libxl needs the tap (blktap) driver for VHD chains");
        assertEquals("vhd", d[1]);
        assertEquals(c.disks().get(0).path().toString(), d[2]);
        assertEquals("file", d[3]);
        assertEquals("xen", d[4]);
        assertEquals("vhd", new VhdFormat().info(Path.of(d[2]), io.cowherd.ImagePolicy.operator(), 0).format());
        try (VirtualDisk disk = pool.open(c.disks().get(0).name(), false)) {
            ByteBuffer b = ByteBuffer.allocate(SIZE);
            disk.readFully(b, 0);
            assertArrayEquals(content, b.array(), "the clone shows the master's bytes");
        }
    }

    @Test
    void xenDomainOnTestDefault() throws Exception {
        Assumptions.assumeTrue(DomainCloner.libvirtAvailable(), "libvirt is not installed");
        Connect conn = DomainCloner.connect("test:///default");
        try {
            List<ClonedDomain> clones = new DomainCloner(conn, pool).cloneXml(xml("xen"),
                    DomainCloneOptions.builder().namePattern("xen-web-%02d").count(2).build());
            assertEquals(List.of("xen-web-01", "xen-web-02"), clones.stream().map(ClonedDomain::name).toList());
            for (ClonedDomain c : clones) {
                Domain dom = conn.domainLookupByName(c.name());
                assertClone(c, dom.getXMLDesc(0));
                dom.undefine();
                dom.free();
            }
        } finally {
            conn.close();
        }
    }

    @Test
    void xenDomainAsXmlFiles() throws Exception {
        Path out = dir.resolve("out");
        List<ClonedDomain> clones = new DomainCloner(null, pool).cloneToXmlFiles(xml("xen"),
                DomainCloneOptions.builder().namePattern("x-%d").count(3).build(), out);
        assertEquals(3, clones.size());
        for (ClonedDomain c : clones) {
            String text = Files.readString(out.resolve(c.name() + ".xml"));
            assertClone(c, text);
            assertEquals(c.name(), DomainXml.parse(text).name());
        }
    }

    @Test
    void aKvmDomainIsRefusedBeforeAnythingIsMade() {
        CowException e = assertThrows(CowException.class, () -> new DomainCloner(null, pool)
                .cloneToXmlFiles(xml("kvm"), DomainCloneOptions.builder().count(1).build(), dir.resolve("out")));
        assertTrue(e.getMessage().contains("Xen"), e.getMessage());
        assertEquals(List.of("golden"), pool.volumes().stream().map(Volume::name).toList());
    }
}
