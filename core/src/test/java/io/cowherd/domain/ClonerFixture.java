package io.cowherd.domain;

import io.cowherd.Pool;
import io.cowherd.Volume;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * TEST ONLY: a temporary pool (over {@link TextOverlayBackend}, claiming qcow2) with one master,
 * an NVRAM file, and a source domain XML whose system disk is that master.
 */
final class ClonerFixture {
    static final String NVRAM_CONTENT = "test UEFI variables";

    final Path dir;
    final Pool pool;
    final Volume master;
    final Path nvram;
    final Path iso;
    final Path shared;

    ClonerFixture(Path dir) throws IOException {
        this.dir = dir;
        this.pool = new TextOverlayBackend("qcow2").openPool(dir.resolve("pool"));
        Path raw = dir.resolve("base.raw");
        TextOverlayFormat.writeRaw(raw, "master bytes".getBytes(StandardCharsets.US_ASCII), 1 << 20);
        this.master = pool.importMaster("base", raw, "raw");
        Files.delete(raw);
        Path nvramDir = Files.createDirectories(dir.resolve("nvram"));
        this.nvram = nvramDir.resolve("src_VARS.fd");
        Files.writeString(nvram, NVRAM_CONTENT);
        this.iso = dir.resolve("install.iso");
        Files.writeString(iso, "iso");
        this.shared = dir.resolve("shared.img");
        Files.writeString(shared, "shared");
    }

    /** The source domain, named {@code name}, with its system disk at {@code systemDisk}. */
    String sourceXml(String name, Path systemDisk, String systemDiskDriver) {
        String driver = systemDiskDriver == null ? "" : "<driver name='qemu' type='" + systemDiskDriver + "'/>";
        return """
                <domain type='test'>
                  <name>%1$s</name>
                  <uuid>11111111-2222-3333-4444-555555555555</uuid>
                  <title>Source VM</title>
                  <memory unit='KiB'>1048576</memory>
                  <vcpu>1</vcpu>
                  <sysinfo type='smbios'>
                    <system>
                      <entry name='uuid'>11111111-2222-3333-4444-555555555555</entry>
                    </system>
                  </sysinfo>
                  <os>
                    <type arch='x86_64'>hvm</type>
                    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>
                    <nvram template='/usr/share/OVMF/OVMF_VARS.fd'>%2$s</nvram>
                    <smbios mode='sysinfo'/>
                  </os>
                  <devices>
                    <disk type='file' device='disk'>
                      %3$s
                      <source file='%4$s'/>
                      <backingStore/>
                      <target dev='vda' bus='virtio'/>
                    </disk>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='raw'/>
                      <source file='%5$s'/>
                      <target dev='vdb' bus='virtio'/>
                      <shareable/>
                    </disk>
                    <disk type='file' device='cdrom'>
                      <driver name='qemu' type='raw'/>
                      <source file='%6$s'/>
                      <target dev='hdc' bus='ide'/>
                      <readonly/>
                    </disk>
                    <interface type='network'>
                      <mac address='52:54:00:11:22:33'/>
                      <source network='default'/>
                      <target dev='vnet7'/>
                    </interface>
                    <interface type='network'>
                      <source network='default'/>
                    </interface>
                    <serial type='file'>
                      <source path='%7$s/%1$s-serial.log'/>
                      <target port='0'/>
                    </serial>
                    <channel type='unix'>
                      <source mode='bind' path='%7$s/%1$s.agent'/>
                      <target type='virtio' name='org.qemu.guest_agent.0'/>
                    </channel>
                    <graphics type='vnc' port='5901' autoport='no' listen='127.0.0.1'/>
                    <tpm model='tpm-crb'>
                      <backend type='emulator' version='2.0'>
                        <source type='dir' path='%7$s/tpm'/>
                      </backend>
                    </tpm>
                  </devices>
                </domain>
                """.formatted(name, nvram, driver, systemDisk, shared, iso, dir);
    }

    /** The source domain {@code src} on the pool's master. */
    String sourceXml() {
        return sourceXml("src", master.path(), "qcow2");
    }

    /** Names of every clone volume in the pool. */
    List<String> cloneVolumes() {
        return pool.volumes().stream().filter(v -> !v.isMaster()).map(Volume::name).toList();
    }

    /** Names of every master in the pool. */
    List<String> masters() {
        return pool.volumes().stream().filter(Volume::isMaster).map(Volume::name).toList();
    }

    /** Where clone {@code name}'s NVRAM copy goes by default. */
    Path nvramOf(String name) {
        return nvram.getParent().resolve(name + "_VARS.fd");
    }
}
