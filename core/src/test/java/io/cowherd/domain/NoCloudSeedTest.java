package io.cowherd.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.VolumeExistsException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NoCloud seed image as the real peer reads it: {@code blkid} sees a FAT file system labelled
 * cidata, {@code fsck.vfat} finds nothing to repair, mtools reads {@code meta-data} and
 * {@code user-data} with each clone's values; the image takes a few KiB on the host.
 */
class NoCloudSeedTest {
    @TempDir
    Path tmp;

    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    @Test
    void linuxMountsTheSeedAndFindsEachClonesData() throws Exception {
        UUID uuid = UUID.randomUUID();
        NoCloudSeed seed = NoCloudSeed.builder().sshAuthorizedKey("ssh-ed25519 AAAAC3Nza test@cowherd")
                .userScript("#!/bin/sh\necho hello \"$1\" \"$2\"\n".getBytes(StandardCharsets.UTF_8)).build();
        Path image = tmp.resolve("web-01-cidata.img");
        seed.write(image, "web-01", 1, "web-01", uuid);
        assertEquals(NoCloudSeed.IMAGE_BYTES, Files.size(image));
        String blkid = run("blkid", "-o", "export", image.toString());
        assertTrue(blkid.contains("LABEL=CIDATA") && blkid.contains("TYPE=vfat"), blkid);
        long kib = Long.parseLong(run("du", "-k", image.toString()).split("\\s+")[0]);
        assertTrue(kib <= 64, "sparse: " + kib + " KiB on the host");

        run("fsck.vfat", "-n", image.toString()); // dosfstools: a valid FAT, nothing to repair
        // mtools, another FAT implementation, reads the files back (Linux itself mounts the seed in the
        // guest of GuestIdentityLibvirtdTest)
        assertEquals("instance-id: " + uuid + "\nlocal-hostname: web-01\n", run("mtype", "-i", image.toString(), "::meta-data"));
        String user = run("mtype", "-i", image.toString(), "::user-data");
        assertTrue(user.startsWith("#cloud-config\nhostname: web-01\n"), user);
        assertTrue(user.contains("ssh_authorized_keys: [\"ssh-ed25519 AAAAC3Nza test@cowherd\"]"), user);
        assertTrue(user.contains("runcmd:\n  - [" + NoCloudSeed.SCRIPT_PATH + ", \"web-01\", '1']"), user);
        assertTrue(run("mlabel", "-s", "-i", image.toString(), "::").contains("CIDATA"), "the volume label");
    }

    @Test
    void aTemplateGetsEachClonesVariablesAndAnImageIsNeverOverwritten() throws Exception {
        UUID uuid = UUID.randomUUID();
        NoCloudSeed seed = NoCloudSeed.builder().userDataTemplate("#cloud-config\nfqdn: {{hostname}}.lab\n"
                + "write_files: [{path: /etc/clone, content: '{{name}} {{index}} {{uuid}}'}]\nkeys: {{ssh_authorized_keys}}\n")
                .sshAuthorizedKey("k1").sshAuthorizedKey("k \"2\"").build();
        assertEquals("#cloud-config\nfqdn: web-07.lab\nwrite_files: [{path: /etc/clone, content: 'vm-7 7 " + uuid + "'}]\n"
                + "keys: [\"k1\", \"k \\\"2\\\"\"]\n", seed.userData("vm-7", 7, "web-07", uuid));
        Path image = tmp.resolve("x.img");
        seed.write(image, "vm-7", 7, "web-07", uuid);
        assertThrows(VolumeExistsException.class, () -> seed.write(image, "vm-7", 7, "web-07", uuid));
        assertThrows(IllegalArgumentException.class, () -> NoCloudSeed.builder().userDataTemplate("x")
                .userScript(new byte[] {1}).build());
    }
}
