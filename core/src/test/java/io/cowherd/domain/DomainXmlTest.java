package io.cowherd.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.CowException;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The XML rewrite steps, field by field, without libvirt or a pool. */
class DomainXmlTest {

    static final String SOURCE = """
            <domain type='kvm' id='7'>
              <name>src</name>
              <uuid>11111111-2222-3333-4444-555555555555</uuid>
              <title>Source VM</title>
              <description>kept as is</description>
              <memory unit='KiB'>1048576</memory>
              <vcpu>1</vcpu>
              <sysinfo type='smbios'>
                <system>
                  <entry name='manufacturer'>cowherd</entry>
                  <entry name='uuid'>11111111-2222-3333-4444-555555555555</entry>
                </system>
              </sysinfo>
              <os>
                <type arch='x86_64'>hvm</type>
                <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>
                <nvram template='/usr/share/OVMF/OVMF_VARS.fd'>/var/lib/libvirt/qemu/nvram/src_VARS.fd</nvram>
                <smbios mode='sysinfo'/>
              </os>
              <devices>
                <disk type='file' device='disk'>
                  <driver name='qemu' type='qcow2'/>
                  <source file='/pool/base.qcow2' index='2'/>
                  <backingStore type='file' index='3'>
                    <format type='raw'/>
                    <source file='/elsewhere/base.raw'/>
                  </backingStore>
                  <target dev='vda' bus='virtio'/>
                </disk>
                <disk type='file' device='disk'>
                  <driver name='qemu' type='raw'/>
                  <source file='/data/shared.img'/>
                  <target dev='vdb' bus='virtio'/>
                  <shareable/>
                </disk>
                <disk type='file' device='disk'>
                  <driver name='qemu' type='raw'/>
                  <source file='/data/ro.img'/>
                  <target dev='vdc' bus='virtio'/>
                  <readonly/>
                </disk>
                <disk type='file' device='cdrom'>
                  <driver name='qemu' type='raw'/>
                  <source file='/iso/install.iso'/>
                  <target dev='sda' bus='sata'/>
                  <readonly/>
                </disk>
                <disk type='file' device='floppy'>
                  <source file='/iso/floppy.img'/>
                  <target dev='fda' bus='fdc'/>
                </disk>
                <interface type='network'>
                  <mac address='52:54:00:11:22:33'/>
                  <source network='default'/>
                  <target dev='vnet7'/>
                  <model type='virtio'/>
                </interface>
                <interface type='bridge'>
                  <source bridge='br0'/>
                  <target dev='vnet8'/>
                </interface>
                <serial type='file'>
                  <source path='/var/log/vm/src-serial.log'/>
                  <target port='0'/>
                </serial>
                <serial type='pty'>
                  <target port='1'/>
                </serial>
                <console type='file'>
                  <source path='/var/log/vm/console.log'/>
                  <log file='/var/log/vm/src.chardev' append='on'/>
                  <target type='serial' port='0'/>
                </console>
                <channel type='unix'>
                  <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/src.org.qemu.guest_agent.0'/>
                  <target type='virtio' name='org.qemu.guest_agent.0'/>
                </channel>
                <channel type='unix'>
                  <source mode='connect' path='/run/other.sock'/>
                  <target type='virtio' name='com.example.other'/>
                </channel>
                <graphics type='vnc' port='5901' autoport='no' websocket='5701' listen='127.0.0.1'/>
                <graphics type='spice' port='5930' tlsPort='5931' autoport='no'/>
                <graphics type='vnc' port='-1' autoport='yes'/>
                <tpm model='tpm-crb'>
                  <backend type='emulator' version='2.0' persistent_state='yes'>
                    <source type='dir' path='/var/lib/swtpm/src'/>
                  </backend>
                </tpm>
              </devices>
            </domain>
            """;

    private static DomainXml source() {
        return DomainXml.parse(SOURCE);
    }

    @Test
    void readsTheSourceFields() {
        DomainXml x = source();
        assertEquals("src", x.name());
        assertEquals(Optional.of("11111111-2222-3333-4444-555555555555"), x.uuid());
        assertEquals(Optional.of("11111111-2222-3333-4444-555555555555"), x.smbiosUuid());
        assertEquals(Optional.of("Source VM"), x.title());
        assertEquals(Optional.of("7"), x.id());
        assertEquals(List.of("52:54:00:11:22:33"), x.macAddresses());
        assertEquals(List.of("vnet7", "vnet8"), x.interfaceTargets());
        assertEquals(Optional.of("/var/lib/libvirt/qemu/nvram/src_VARS.fd"), x.nvramPath());
        assertEquals(Optional.of("/usr/share/OVMF/OVMF_VARS.fd"), x.nvramTemplate());
    }

    @Test
    void classifiesDisks() {
        List<DomainDisk> disks = source().disks();
        assertEquals(5, disks.size());
        DomainDisk vda = disks.get(0);
        assertEquals(new DomainDisk("vda", "disk", "file", "qcow2", "/pool/base.qcow2", false, false, false), vda);
        assertTrue(vda.needsClone());
        assertFalse(disks.get(1).needsClone(), "shareable disk is shared");
        assertTrue(disks.get(1).shareable());
        assertFalse(disks.get(2).needsClone(), "read-only disk is shared");
        assertTrue(disks.get(2).readOnly());
        assertFalse(disks.get(3).needsClone(), "cdrom is shared");
        assertFalse(disks.get(4).needsClone(), "floppy is shared");
        assertEquals(null, disks.get(4).driverType());
    }

    @Test
    void setsNameAndUuidIncludingSmbios() {
        DomainXml x = source();
        UUID u = UUID.randomUUID();
        x.setName("web-01");
        x.setUuid(u);
        DomainXml back = DomainXml.parse(x.toXml());
        assertEquals("web-01", back.name());
        assertEquals(Optional.of(u.toString()), back.uuid());
        assertEquals(Optional.of(u.toString()), back.smbiosUuid());
        // other SMBIOS entries untouched
        assertTrue(back.toXml().contains("<entry name=\"manufacturer\">cowherd</entry>"));
    }

    @Test
    void addsUuidWhenMissing() {
        DomainXml x = DomainXml.parse("<domain type='test'><name>n</name><memory>1</memory></domain>");
        UUID u = UUID.randomUUID();
        x.setUuid(u);
        assertEquals(Optional.of(u.toString()), DomainXml.parse(x.toXml()).uuid());
        assertEquals(Optional.empty(), x.smbiosUuid());
    }

    @Test
    void clearsIdAndTitleButKeepsDescription() {
        DomainXml x = source();
        x.clearIdAndTitle();
        DomainXml back = DomainXml.parse(x.toXml());
        assertEquals(Optional.empty(), back.id());
        assertEquals(Optional.empty(), back.title());
        assertTrue(back.toXml().contains("<description>kept as is</description>"));
    }

    @Test
    void replacesEveryMacWithAUniqueQemuMac() {
        DomainXml x = source();
        MacAddressAllocator alloc = new MacAddressAllocator();
        alloc.reserve(x.macAddresses());
        List<String> macs = x.replaceMacAddresses(alloc::allocate);
        assertEquals(2, macs.size(), "one per interface, also the one that had no <mac>");
        assertEquals(2, new HashSet<>(macs).size());
        for (String m : macs) {
            assertTrue(m.matches("52:54:00(:[0-9a-f]{2}){3}"), m);
            assertNotEquals("52:54:00:11:22:33", m);
        }
        assertEquals(macs, DomainXml.parse(x.toXml()).macAddresses());
    }

    @Test
    void dropsInterfaceTargets() {
        DomainXml x = source();
        assertEquals(2, x.dropInterfaceTargets());
        DomainXml back = DomainXml.parse(x.toXml());
        assertEquals(List.of(), back.interfaceTargets());
        // the <model> and <source> stay
        assertTrue(back.toXml().contains("<model type=\"virtio\"/>"));
        assertTrue(back.toXml().contains("<source bridge=\"br0\"/>"));
    }

    @Test
    void rewritesOnlyTheClonedDiskAndLeavesSharedOnes() {
        DomainXml x = source();
        x.replaceDiskSource("vda", "/pool/web-01-vda.qcow2", "qcow2", true);
        List<DomainDisk> disks = DomainXml.parse(x.toXml()).disks();
        assertEquals(new DomainDisk("vda", "disk", "file", "qcow2", "/pool/web-01-vda.qcow2", false, false, false),
                disks.get(0));
        assertEquals(source().disks().subList(1, 5), disks.subList(1, 5), "shared disks unchanged");
        Element vda = disk(x, 0);
        assertEquals(0, vda.getElementsByTagName("backingStore").getLength(), "backingStore removed");
        Element src = (Element) vda.getElementsByTagName("source").item(0);
        assertFalse(src.hasAttribute("index"), "stale index dropped");
        assertEquals("qemu", ((Element) vda.getElementsByTagName("driver").item(0)).getAttribute("name"));
    }

    @Test
    void blockVolumesBecomeBlockDisks() {
        DomainXml x = source();
        x.replaceDiskSource("vda", "/dev/vg0/web-01-vda", "raw", false);
        DomainDisk vda = DomainXml.parse(x.toXml()).disks().get(0);
        assertEquals("block", vda.type());
        assertEquals("/dev/vg0/web-01-vda", vda.source());
        assertEquals("raw", vda.driverType());
        Element src = (Element) disk(x, 0).getElementsByTagName("source").item(0);
        assertFalse(src.hasAttribute("file"));
        assertEquals("/dev/vg0/web-01-vda", src.getAttribute("dev"));
    }

    @Test
    void addsDriverWhenMissing() {
        DomainXml x = source();
        x.replaceDiskSource("fda", "/pool/f.qcow2", "qcow2", true);
        assertEquals("qcow2", DomainXml.parse(x.toXml()).disks().get(4).driverType());
    }

    @Test
    void unknownDiskTargetIsAnError() {
        assertThrows(CowException.class, () -> source().replaceDiskSource("vdz", "/x", "qcow2", true));
    }

    @Test
    void pointsNvramAtTheCopyAndKeepsTheTemplate() {
        DomainXml x = source();
        x.setNvramPath("/var/lib/libvirt/qemu/nvram/web-01_VARS.fd");
        DomainXml back = DomainXml.parse(x.toXml());
        assertEquals(Optional.of("/var/lib/libvirt/qemu/nvram/web-01_VARS.fd"), back.nvramPath());
        assertEquals(Optional.of("/usr/share/OVMF/OVMF_VARS.fd"), back.nvramTemplate());
    }

    @Test
    void nvramInSourceElementForm() {
        DomainXml x = DomainXml.parse("<domain><name>a</name><os><nvram type='file' template='/t.fd'>"
                + "<source file='/n/a_VARS.fd'/></nvram></os></domain>");
        assertEquals(Optional.of("/n/a_VARS.fd"), x.nvramPath());
        x.setNvramPath("/n/b_VARS.fd");
        assertEquals(Optional.of("/n/b_VARS.fd"), DomainXml.parse(x.toXml()).nvramPath());
    }

    @Test
    void dropsTpmStateButKeepsTheTpm() {
        DomainXml x = source();
        assertEquals(1, x.dropTpmState());
        String out = x.toXml();
        assertFalse(out.contains("/var/lib/swtpm/src"));
        assertTrue(out.contains("version=\"2.0\"/>"), "emptied backend serializes as an empty element: " + out);
        Element backend = (Element) x.document().getElementsByTagName("backend").item(0);
        assertEquals("emulator", backend.getAttribute("type"));
        assertEquals("2.0", backend.getAttribute("version"));
        assertEquals(0, backend.getElementsByTagName("source").getLength());
        assertEquals(1, x.document().getElementsByTagName("tpm").getLength());
    }

    @Test
    void passthroughTpmIsLeftAlone() {
        DomainXml x = DomainXml.parse("<domain><name>a</name><devices><tpm model='tpm-tis'><backend "
                + "type='passthrough'><device path='/dev/tpm0'/></backend></tpm></devices></domain>");
        assertEquals(0, x.dropTpmState());
        assertTrue(x.toXml().contains("/dev/tpm0"));
    }

    @Test
    void fixedGraphicsPortsBecomeAutoport() {
        DomainXml x = source();
        assertEquals(2, x.makeGraphicsAutoport());
        NodeList g = DomainXml.parse(x.toXml()).document().getElementsByTagName("graphics");
        Element vnc = (Element) g.item(0);
        assertFalse(vnc.hasAttribute("port"));
        assertEquals("yes", vnc.getAttribute("autoport"));
        assertEquals("-1", vnc.getAttribute("websocket"), "fixed websocket port becomes automatic");
        assertEquals("127.0.0.1", vnc.getAttribute("listen"));
        Element spice = (Element) g.item(1);
        assertFalse(spice.hasAttribute("port"));
        assertFalse(spice.hasAttribute("tlsPort"));
        assertEquals("yes", spice.getAttribute("autoport"));
        Element auto = (Element) g.item(2);
        assertEquals("-1", auto.getAttribute("port"), "already automatic: untouched");
    }

    @Test
    void dropsTheGuestAgentSocketPathOnly() {
        DomainXml x = source();
        assertEquals(1, x.dropAgentSocketPaths());
        NodeList ch = DomainXml.parse(x.toXml()).document().getElementsByTagName("channel");
        Element agent = (Element) ((Element) ch.item(0)).getElementsByTagName("source").item(0);
        assertFalse(agent.hasAttribute("path"));
        assertEquals("bind", agent.getAttribute("mode"));
        Element other = (Element) ((Element) ch.item(1)).getElementsByTagName("source").item(0);
        assertEquals("/run/other.sock", other.getAttribute("path"));
    }

    @Test
    void renamesSerialAndConsoleFiles() {
        DomainXml x = source();
        assertEquals(3, x.renameSerialFiles("src", "web-01"));
        DomainXml back = DomainXml.parse(x.toXml());
        assertEquals(List.of("/var/log/vm/web-01-serial.log", "/var/log/vm/console-web-01.log"), back.serialFiles());
        assertTrue(back.toXml().contains("/var/log/vm/web-01.chardev"));
    }

    @Test
    void clonePathKeepsDirectoryAndShortExtensions() {
        assertEquals("/l/web-01.log", DomainXml.clonePath("/l/src.log", "src", "web-01"));
        assertEquals("/l/web-01-serial.log", DomainXml.clonePath("/l/src-serial.log", "src", "web-01"));
        assertEquals("/l/serial-web-01.log", DomainXml.clonePath("/l/serial.log", "src", "web-01"));
        assertEquals("/l/serial-web-01", DomainXml.clonePath("/l/serial", "src", "web-01"));
        assertEquals("/l/a.verylongext-web-01", DomainXml.clonePath("/l/a.verylongext", "src", "web-01"));
        assertEquals("out-web-01.txt", DomainXml.clonePath("out.txt", "src", "web-01"));
    }

    @Test
    void roundTripKeepsEverythingElse() {
        DomainXml x = source();
        DomainXml back = DomainXml.parse(x.toXml());
        assertEquals(x.disks(), back.disks());
        assertEquals(x.macAddresses(), back.macAddresses());
        assertEquals(x.serialFiles(), back.serialFiles());
    }

    @Test
    void copyIsIndependent() {
        DomainXml x = source();
        DomainXml c = x.copy();
        c.setName("other");
        assertEquals("src", x.name());
        assertEquals("other", c.name());
    }

    @Test
    void keepsNamespacedMetadata() {
        String xml = "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>a</name>"
                + "<qemu:commandline><qemu:arg value='-S'/></qemu:commandline></domain>";
        String out = DomainXml.parse(xml).toXml();
        assertTrue(out.contains("qemu:commandline"), out);
        assertTrue(out.contains("xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\""), out);
    }

    @Test
    void rejectsDoctypeWithExternalEntity() {
        String xxe = "<?xml version='1.0'?>\n<!DOCTYPE domain [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>\n"
                + "<domain><name>&xxe;</name></domain>";
        CowException e = assertThrows(CowException.class, () -> DomainXml.parse(xxe));
        assertTrue(e.getMessage().contains("DOCTYPE"), e.getMessage());
    }

    @Test
    void rejectsEntityExpansionBomb() {
        String bomb = "<!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
                + "<domain><name>&b;</name></domain>";
        assertThrows(CowException.class, () -> DomainXml.parse(bomb));
    }

    @Test
    void rejectsExternalDtd() {
        String dtd = "<!DOCTYPE domain SYSTEM 'http://127.0.0.1:1/evil.dtd'><domain><name>a</name></domain>";
        assertThrows(CowException.class, () -> DomainXml.parse(dtd));
    }

    @Test
    void doesNotProcessXInclude() {
        String xml = "<domain xmlns:xi='http://www.w3.org/2001/XInclude'><name>a</name>"
                + "<xi:include href='file:///etc/passwd' parse='text'/></domain>";
        String out = DomainXml.parse(xml).toXml();
        assertTrue(out.contains("xi:include"), "left as an element, not included: " + out);
        assertFalse(out.contains("root:"), out);
    }

    @Test
    void rejectsMalformedAndNonDomainXml() {
        assertThrows(CowException.class, () -> DomainXml.parse("<domain><name>a</name>"));
        assertThrows(CowException.class, () -> DomainXml.parse("<network><name>a</name></network>"));
        assertThrows(CowException.class, () -> DomainXml.parse(""));
        assertThrows(CowException.class, () -> DomainXml.parse("<domain/>").name());
    }

    @Test
    void macAllocatorNeverHandsOutAReservedAddress() {
        // A random source that first yields the reserved address, then another one.
        Random scripted = new Random() {
            private final int[] values = {0x11, 0x22, 0x33, 0x11, 0x22, 0x33, 0xab, 0xcd, 0xef};
            private int i;

            @Override
            public int nextInt(int bound) {
                return values[i++ % values.length];
            }
        };
        MacAddressAllocator alloc = new MacAddressAllocator(scripted);
        alloc.reserve(List.of("52:54:00:11:22:33", "not-a-mac"));
        assertTrue(alloc.isTaken("52:54:00:11:22:33"));
        assertEquals("52:54:00:ab:cd:ef", alloc.allocate());
        assertTrue(alloc.isTaken("52:54:00:AB:CD:EF"));
    }

    @Test
    void optionsValidateThePattern() {
        DomainCloneOptions o = DomainCloneOptions.builder().namePattern("web-%02d").count(3).build();
        assertEquals("web-01", o.nameFor("src", 1));
        assertEquals("src-clone-4", DomainCloneOptions.builder().build().nameFor("src", 4));
        assertThrows(IllegalArgumentException.class,
                () -> DomainCloneOptions.builder().namePattern("web").count(2).build());
        assertEquals("web", DomainCloneOptions.builder().namePattern("web").count(1).build().nameFor("s", 1));
        assertThrows(IllegalArgumentException.class,
                () -> DomainCloneOptions.builder().namePattern("web-%s-%d").build());
        assertThrows(IllegalArgumentException.class, () -> DomainCloneOptions.builder().count(0).build());
    }

    private static Element disk(DomainXml x, int i) {
        return (Element) x.document().getElementsByTagName("disk").item(i);
    }
}
