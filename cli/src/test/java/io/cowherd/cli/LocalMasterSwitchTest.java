package io.cowherd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.domain.LibvirtFailureException;
import io.cowherd.domain.LocalMasterSwitch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.Domain;

/**
 * The move onto the local master where libvirt cannot do it: libvirt's test driver runs domains but
 * has no block jobs. The move is refused with libvirt's reason, the domain keeps its disk, and no
 * image is left behind. (The move itself, with a real libvirtd and guest: {@link StreamBootLibvirtdTest}.)
 */
class LocalMasterSwitchTest {
    @TempDir
    Path dir;

    @Test
    void aMoveLibvirtCannotMakeIsRefusedAndLeavesNothingBehind() throws Exception {
        Path top = dir.resolve("clone.qcow2");
        CliTest.sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "nbd+unix:///disk.raw?socket=" + dir.resolve("s.sock"),
                "-F", "raw", "-o", "size=16M", top.toString());
        Path local = Files.write(dir.resolve("disk.raw"), new byte[16 << 20]);
        byte[] before = Files.readAllBytes(top);
        Connect conn = new Connect("test:///default");
        try {
            Domain d = conn.domainDefineXML("""
                    <domain type='test'><name>on-stream</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>
                      <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>
                        <backingStore type='network'><format type='raw'/>
                          <source protocol='nbd' name='disk.raw'><host transport='unix' socket='%s'/></source>
                          <backingStore/></backingStore>
                        <target dev='vda' bus='virtio'/></disk></devices></domain>""".formatted(top, dir.resolve("s.sock")));
            d.create();
            LibvirtFailureException e = assertThrows(LibvirtFailureException.class, () -> LocalMasterSwitch.moveAll(conn,
                    dir.resolve("s.sock"), "disk.raw", local, "raw", Duration.ofSeconds(10)));
            assertTrue(e.getMessage().contains("on-stream") || e.getMessage().contains("disk.raw"), e.getMessage());
            assertFalse(Files.exists(dir.resolve("clone.local.qcow2")), "no new top left behind");
            assertTrue(d.getXMLDesc(0).contains("<source file='" + top + "'"), "the domain keeps its disk");
            assertEquals(-1, java.util.Arrays.mismatch(before, Files.readAllBytes(top)), "the old top is untouched");
        } finally {
            conn.close();
        }
    }
}
