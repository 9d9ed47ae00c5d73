package io.cowherd.cli;

import io.cowherd.domain.GuestIdentity;
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

    /** The identity asked for, or {@link GuestIdentity#NONE}. */
    GuestIdentity identity(CommandLine cmd) {
        if (hostname == null && !cloudInit && credentials.isEmpty()) {
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
        return id.build();
    }
}
