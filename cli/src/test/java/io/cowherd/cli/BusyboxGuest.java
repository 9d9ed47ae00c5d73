package io.cowherd.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;

/**
 * The small guest of the libvirtd tests: Debian's kernel and modules and a static busybox
 * (unpacked by {@code scripts/install-test-peers.sh} into {@link #DIR}), booted by QEMU with an
 * initramfs whose {@code /init} is the test's own script. Boots in 15-25 s under TCG with 512 MiB.
 */
final class BusyboxGuest {
    static final Path DIR = Path.of("/var/cache/cowherd/guest");
    /** The modules a virtio disk needs, in load order. */
    static final List<String> VIRTIO = List.of("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
            "virtio_pci", "virtio_blk");
    /** The modules a FAT file system needs (Debian builds vfat and its code pages as modules). */
    static final List<String> FAT = List.of("fat", "vfat", "nls_cp437", "nls_ascii", "nls_utf8", "nls_iso8859-1");

    private BusyboxGuest() {
    }

    /** The guest's kernel. */
    static Path kernel() {
        return DIR.resolve("vmlinuz");
    }

    /**
     * Writes an initramfs at {@code out}: busybox, {@code modules} in {@code /lib}, and {@code init}
     * as {@code /init}, preceded by the lines that install busybox's applets, mount proc, sysfs and
     * devtmpfs and load the modules in order.
     */
    static Path initramfs(Path out, List<String> modules, String init) throws IOException {
        String script = "#!/bin/busybox sh\n/bin/busybox --install -s /bin\n"
                + "mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev\n"
                + "for m in " + String.join(" ", modules) + "; do insmod /lib/$m.ko; done\n" + init;
        try (OutputStream os = Files.newOutputStream(out); CpioArchiveOutputStream cpio = new CpioArchiveOutputStream(os)) {
            for (String d : List.of("bin", "lib", "proc", "sys", "dev", "mnt")) {
                CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, d);
                e.setMode(CpioConstants.C_ISDIR | 0755);
                e.setNumberOfLinks(2);
                cpio.putArchiveEntry(e);
                cpio.closeArchiveEntry();
            }
            add(cpio, "init", script.getBytes(StandardCharsets.UTF_8), 0755);
            add(cpio, "bin/busybox", Files.readAllBytes(DIR.resolve("busybox")), 0755);
            for (String m : modules) {
                add(cpio, "lib/" + m + ".ko", Files.readAllBytes(DIR.resolve(m + ".ko")), 0644);
            }
        }
        return out;
    }

    private static void add(CpioArchiveOutputStream cpio, String name, byte[] data, int mode) throws IOException {
        CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, name, data.length);
        e.setMode(CpioConstants.C_ISREG | mode);
        e.setNumberOfLinks(1);
        cpio.putArchiveEntry(e);
        cpio.write(data);
        cpio.closeArchiveEntry();
    }
}
