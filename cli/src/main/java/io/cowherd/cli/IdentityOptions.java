package io.cowherd.cli;

import io.cowherd.domain.GuestIdentity;
import io.cowherd.domain.NoCloudSeed;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** The identity flags of {@code domain clone} and {@code deploy}: what each clone learns through SMBIOS. */
final class IdentityOptions {
    @Option(names = "--hostname", paramLabel = "PATTERN", description = {"Give each clone this hostname (a format "
        + "with the index, e.g. web-%%02d) through SMBIOS: the systemd credential system.hostname, and cloud-init's "
        + "with --cloud-init. With --cloud-init or --credential and no --hostname: the clone's name."})
    String hostname;

    @Option(names = "--cloud-init", description = {"Deliver cloud-init's NoCloud data source in the SMBIOS serial "
        + "(ds=nocloud;i=INSTANCE;h=HOSTNAME, the instance id being the clone's UUID), so a sealed guest sets its "
        + "hostname and makes new SSH host keys at its first boot."})
    boolean cloudInit;

    @Option(names = "--credential", paramLabel = "NAME=VALUE", description = {"A systemd credential for every clone, "
        + "as an SMBIOS type 11 string (systemd 252 and later). Repeatable."})
    List<String> credentials = new ArrayList<>();

    @Option(names = "--seed-disk", description = {"Attach to each clone, read-only, a small cloud-init NoCloud seed disk "
        + "(FAT, label CIDATA, in POOL/.seeds) with its instance id, hostname and user data."})
    boolean seedDisk;

    @Option(names = "--user-data", paramLabel = "FILE", description = {"With --seed-disk: the user data, a template in "
        + "which {{name}}, {{hostname}}, {{index}}, {{uuid}} and {{ssh_authorized_keys}} become each clone's (default: "
        + "a cloud-config with the hostname, --ssh-key keys and --user-script)."})
    java.nio.file.Path userData;

    @Option(names = "--ssh-key", paramLabel = "FILE", description = {"With --seed-disk: authorize the SSH public keys "
        + "in FILE (one per line, as in authorized_keys) in every clone. Repeatable."})
    List<java.nio.file.Path> sshKeys = new ArrayList<>();

    @Option(names = "--user-script", paramLabel = "FILE", description = {"With --seed-disk: a script each clone runs "
        + "once at its first boot, with its name and index as arguments."})
    java.nio.file.Path userScript;

    private NoCloudSeed seed() {
        NoCloudSeed.Builder b = NoCloudSeed.builder();
        if (userData != null) {
            b.userDataTemplate(new String(read(userData), java.nio.charset.StandardCharsets.UTF_8));
        }
        for (java.nio.file.Path f : sshKeys) {
            new String(read(f), java.nio.charset.StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.isBlank() && !l.startsWith("#")).forEach(b::sshAuthorizedKey);
        }
        if (userScript != null) {
            b.userScript(read(userScript));
        }
        return b.build();
    }

    private static byte[] read(java.nio.file.Path f) {
        try {
            return java.nio.file.Files.readAllBytes(f);
        } catch (java.io.IOException e) {
            throw io.cowherd.CowIOException.wrap(f, "reading", e);
        }
    }

    /** The identity asked for, or {@link GuestIdentity#NONE}. */
    GuestIdentity identity(CommandLine cmd) {
        if (!seedDisk && (userData != null || !sshKeys.isEmpty() || userScript != null)) {
            throw new CommandLine.ParameterException(cmd, "--user-data, --ssh-key and --user-script go on the seed disk: "
                    + "add --seed-disk");
        }
        if (hostname == null && !cloudInit && credentials.isEmpty() && !seedDisk) {
            return GuestIdentity.NONE;
        }
        GuestIdentity.Builder id = GuestIdentity.builder().cloudInit(cloudInit);
        if (hostname != null) {
            id.hostnamePattern(hostname);
        }
        for (String c : credentials) {
            int eq = c.indexOf('=');
            if (eq <= 0) {
                throw new CommandLine.ParameterException(cmd, "--credential takes NAME=VALUE, not '" + c + "'");
            }
            id.credential(c.substring(0, eq), c.substring(eq + 1));
        }
        if (seedDisk) {
            id.seedDisk(seed());
        }
        return id.build();
    }
}
