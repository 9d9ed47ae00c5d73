package io.cowherd.cli;

import static io.cowherd.cli.CliTest.cowherd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cowherd.cli.CliTest.Run;
import io.cowherd.testkit.PrivateLibvirtd;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What each clone's guest sees of its identity, read by a real guest under a real libvirtd and
 * QEMU (TCG; the busybox guest of {@link BusyboxGuest}, whose init prints what it finds on its
 * serial console): {@code cowherd domain clone --hostname --cloud-init --credential --seed-disk}
 * gives two clones their own SMBIOS serial (cloud-init's NoCloud source with the clone's instance
 * id and hostname), SMBIOS UUID, systemd credentials (SMBIOS type 11), and a NoCloud seed disk
 * that the guest's Linux finds by its label ({@code findfs LABEL=CIDATA}), mounts and reads. The full proof with cloud-init and
 * systemd in a sealed Debian guest is benchmarks/identity/run-three-clones.sh.
 */
@Timeout(300)
class GuestIdentityLibvirtdTest {
    @TempDir
    Path dir;

    private static final String INIT = """
            i=0; while { [ ! -b /dev/vda ] || [ ! -b /dev/vdb ]; } && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
            say() { echo "COWHERD-ID $*" > /dev/ttyS0; }
            say "serial=$(cat /sys/class/dmi/id/product_serial)"
            say "uuid=$(cat /sys/class/dmi/id/product_uuid)"
            strings /sys/firmware/dmi/tables/DMI | grep '^io.systemd.credential:' | while read -r l; do say "oem=$l"; done
            seed=$(findfs LABEL=CIDATA)
            say "seed-device=$seed"
            if mount -t vfat -o ro "$seed" /mnt; then
              while read -r l; do say "meta-data: $l"; done < /mnt/meta-data
              while read -r l; do say "user-data: $l"; done < /mnt/user-data
            fi
            echo COWHERD-ID-END > /dev/ttyS0
            while true; do sleep 60; done
            """;

    @Test
    void eachGuestReadsItsOwnIdentityFromItsVirtualHardware() throws Exception {
        assertTrue(Files.isRegularFile(BusyboxGuest.DIR.resolve("vfat.ko")),
                BusyboxGuest.DIR + " has no guest with FAT modules: run scripts/install-test-peers.sh");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path consoles = Files.createDirectories(dir.resolve("consoles"));
        Files.setPosixFilePermissions(consoles, PosixFilePermissions.fromString("rwxrwxrwx"));
        List<String> modules = new ArrayList<>(BusyboxGuest.VIRTIO);
        modules.addAll(BusyboxGuest.FAT);
        Path initrd = BusyboxGuest.initramfs(dir.resolve("initrd.cpio"), modules, INIT);
        Path disk = dir.resolve("golden.raw");
        CliTest.sh(dir, "qemu-img", "create", "-q", "-f", "raw", disk.toString(), "16M");
        Path xml = Files.writeString(dir.resolve("golden.xml"), """
                <domain type='qemu'><name>golden</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>
                  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel><initrd>%s</initrd>
                    <cmdline>console=ttyS0 panic=-1</cmdline></os>
                  <on_reboot>destroy</on_reboot>
                  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
                    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>
                      <target dev='vda' bus='virtio'/></disk>
                    <serial type='file'><source path='%s'/><target port='0'/></serial>
                  </devices></domain>""".formatted(BusyboxGuest.kernel(), initrd, disk, consoles.resolve("golden.log")));
        Path key = Files.writeString(dir.resolve("id.pub"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIcowherd test@cowherd\n");
        Path script = Files.writeString(dir.resolve("first-boot.sh"), "#!/bin/sh\necho first boot of \"$1\"\n");

        try (PrivateLibvirtd daemon = PrivateLibvirtd.start(Files.createDirectories(dir.resolve("libvirtd")))) {
            Run r = cowherd("domain", "clone", "--connect", daemon.uri(), "--xml", xml.toString(), "--count", "2",
                    "--name-pattern", "id-%d", "--hostname", "host-%02d", "--cloud-init", "--credential", "test.key=value 1",
                    "--seed-disk", "--ssh-key", key.toString(), "--user-script", script.toString(),
                    "--pool", dir.resolve("pool").toString(), "--start", "--output=json");
            assertEquals(0, r.exit(), r.err());
            JsonNode clones = new ObjectMapper().readTree(r.out());
            assertEquals(2, clones.size(), r.out());
            List<String> uuids = new ArrayList<>();
            for (JsonNode c : clones) {
                String name = c.get("name").asText();
                String uuid = c.get("uuid").asText();
                String host = name.equals("id-1") ? "host-01" : "host-02";
                uuids.add(uuid);
                Map<String, List<String>> seen = awaitIdentity(consoles.resolve(name + ".log"));
                assertEquals(List.of("ds=nocloud;i=" + uuid + ";h=" + host), seen.get("serial"), name + ": " + seen);
                assertEquals(List.of(uuid), seen.get("uuid").stream().map(u -> u.toLowerCase(Locale.ROOT)).toList(), name);
                assertEquals(List.of("io.systemd.credential:system.hostname=" + host, "io.systemd.credential:test.key=value 1"),
                        seen.get("oem"), name + ": systemd credentials in SMBIOS type 11");
                assertTrue(seen.get("seed-device").get(0).startsWith("/dev/vd"), name + ": the seed disk found by its label "
                        + seen);
                assertEquals(List.of("instance-id: " + uuid, "local-hostname: " + host), seen.get("meta-data"), name);
                List<String> user = seen.get("user-data");
                assertEquals("#cloud-config", user.get(0), name + ": " + user);
                assertTrue(user.contains("hostname: " + host)
                        && user.contains("ssh_authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIcowherd test@cowherd\"]")
                        && user.contains("- [/var/lib/cowherd/user-script, \"" + name + "\", '" + name.substring(3) + "']"),
                        name + ": " + user);
            }
            assertNotEquals(uuids.get(0), uuids.get(1));
            try (Stream<Path> seeds = Files.list(dir.resolve("pool/.seeds"))) {
                assertEquals(List.of("id-1-cidata.img", "id-2-cidata.img"),
                        seeds.map(p -> p.getFileName().toString()).sorted().toList());
            }
        }
    }

    /** The guest's COWHERD-ID lines up to COWHERD-ID-END, by key ("serial", "oem", "meta-data", ...). */
    private static Map<String, List<String>> awaitIdentity(Path console) throws Exception {
        long until = System.nanoTime() + 180_000_000_000L;
        while (System.nanoTime() < until) {
            String text = Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
            if (text.contains("COWHERD-ID-END")) {
                Map<String, List<String>> seen = new TreeMap<>();
                for (String line : text.split("\r?\n")) {
                    int at = line.indexOf("COWHERD-ID ");
                    if (at < 0) {
                        continue;
                    }
                    String kv = line.substring(at + "COWHERD-ID ".length());
                    int sep = kv.indexOf(kv.startsWith("meta-data:") || kv.startsWith("user-data:") ? ':' : '=');
                    seen.computeIfAbsent(kv.substring(0, sep), k -> new ArrayList<>()).add(kv.substring(sep + 1).strip());
                }
                return seen;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("no COWHERD-ID-END on " + console + " in 180 s:\n"
                + (Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "(no console file)"));
    }
}
