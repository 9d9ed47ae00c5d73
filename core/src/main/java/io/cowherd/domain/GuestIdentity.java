package io.cowherd.domain;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * What makes each clone its own machine inside, delivered through its virtual hardware so that
 * nothing is written into the clone's disk: a sealed guest (empty {@code /etc/machine-id}, no SSH
 * host keys, cloud-init state cleared) reads it at its first boot.
 * <ul>
 * <li>The SMBIOS system UUID, distinct per clone (always: the cloner sets it with the domain's
 *     UUID), which systemd turns into the machine-id when {@code /etc/machine-id} is empty.</li>
 * <li>With {@link Builder#cloudInit}, cloud-init's NoCloud data source in the SMBIOS system serial,
 *     {@code ds=nocloud;i=INSTANCE-ID;h=HOSTNAME}, the instance id being the clone's UUID: a new
 *     instance id makes cloud-init regenerate the SSH host keys and set the hostname.</li>
 * <li>systemd credentials as SMBIOS type 11 strings, {@code io.systemd.credential:NAME=VALUE}
 *     (systemd 252 and later import them): {@code system.hostname} whenever a hostname is given
 *     (read by systemd later than 252; Debian 12's 252 ignores it, cloud-init sets the name
 *     there), and any other the caller adds ({@link Builder#credential}).</li>
 * <li>With {@link Builder#seedDisk}, a cloud-init NoCloud seed disk per clone ({@link NoCloudSeed}):
 *     meta data and user data (SSH keys, a script, a template of the caller's) on a small FAT
 *     file system attached read-only.</li>
 * </ul>
 * Hostnames come from a {@link String#format} pattern with the clone's index ({@code web-%02d}),
 * by default the clone's domain name. Immutable; made with {@link #builder()}.
 */
public final class GuestIdentity {
    /** A hostname label as RFC 1123 allows it: letters, digits, hyphens, not at either end. */
    private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");
    /** A systemd credential name: no '=' and nothing the SMBIOS string would garble. */
    private static final Pattern CREDENTIAL = Pattern.compile("[A-Za-z0-9_.@-]{1,255}");

    private final String hostnamePattern;
    private final boolean cloudInit;
    private final Map<String, String> credentials;
    private final NoCloudSeed seed;

    private GuestIdentity(Builder b) {
        this.seed = b.seed;
        this.hostnamePattern = b.hostnamePattern;
        this.cloudInit = b.cloudInit;
        this.credentials = Map.copyOf(b.credentials);
    }

    /** No identity beyond the per-clone SMBIOS UUID, as before this class existed. */
    public static final GuestIdentity NONE = builder().build();

    /** A builder: hostname from the clone's name, no cloud-init serial, no credentials. */
    public static Builder builder() {
        return new Builder();
    }

    /** Whether anything beyond the SMBIOS UUID is delivered. */
    public boolean delivers() {
        return cloudInit || !credentials.isEmpty() || hostnamePattern != null || seed != null;
    }

    /** The NoCloud seed disk each clone gets, if any. */
    public java.util.Optional<NoCloudSeed> seedDisk() {
        return java.util.Optional.ofNullable(seed);
    }

    /** Whether the NoCloud serial is written. */
    public boolean cloudInit() {
        return cloudInit;
    }

    /** The systemd credentials given beside the hostname, by name. */
    public Map<String, String> credentials() {
        return credentials;
    }

    /** The hostname of clone number {@code index} whose domain is called {@code domainName}. */
    public String hostnameFor(String domainName, int index) {
        String h = hostnamePattern == null ? domainName : String.format(Locale.ROOT, hostnamePattern, index);
        checkHostname(h);
        return h;
    }

    /** The NoCloud SMBIOS serial for a clone: cloud-init's data source, instance id and hostname. */
    static String noCloudSerial(UUID instance, String hostname) {
        return "ds=nocloud;i=" + instance + ";h=" + hostname;
    }

    /** Every systemd credential of a clone with {@code hostname}: {@code system.hostname} first. */
    Map<String, String> credentialsFor(String hostname) {
        Map<String, String> all = new LinkedHashMap<>();
        all.put("system.hostname", hostname);
        all.putAll(credentials);
        return all;
    }

    static void checkHostname(String h) {
        if (h.length() > 253 || h.isEmpty() || !h.chars().allMatch(c -> c < 128)) {
            throw new IllegalArgumentException("'" + h + "' is not a hostname: 1 to 253 ASCII characters");
        }
        for (String label : h.split("\\.", -1)) {
            if (!LABEL.matcher(label).matches()) {
                throw new IllegalArgumentException("'" + h + "' is not a hostname: each dot-separated part has 1 to 63 "
                        + "letters, digits or hyphens, not starting or ending with a hyphen");
            }
        }
    }

    /** Builds {@link GuestIdentity}. */
    public static final class Builder {
        private String hostnamePattern;
        private boolean cloudInit;
        private final Map<String, String> credentials = new LinkedHashMap<>();
        private NoCloudSeed seed;

        private Builder() {
        }

        /** Gives each clone a NoCloud seed disk (label cidata) with its meta data and user data, read-only. */
        public Builder seedDisk(NoCloudSeed seed) {
            this.seed = seed;
            return this;
        }

        /** Hostnames from this {@link String#format} pattern with the clone's index, e.g. {@code web-%02d}. */
        public Builder hostnamePattern(String pattern) {
            String sample = String.format(Locale.ROOT, Objects.requireNonNull(pattern, "pattern"), 1);
            checkHostname(sample);
            this.hostnamePattern = pattern;
            return this;
        }

        /** Whether to deliver cloud-init's NoCloud data source through the SMBIOS system serial. */
        public Builder cloudInit(boolean on) {
            this.cloudInit = on;
            return this;
        }

        /**
         * Adds the systemd credential {@code name} with {@code value}, for every clone (SMBIOS type
         * 11, {@code io.systemd.credential:NAME=VALUE}); {@code system.hostname} comes from the
         * hostname and cannot be given here.
         */
        public Builder credential(String name, String value) {
            if (!CREDENTIAL.matcher(name).matches()) {
                throw new IllegalArgumentException("'" + name + "' is not a systemd credential name (letters, digits, "
                        + "'_', '.', '@', '-')");
            }
            if (name.equals("system.hostname")) {
                throw new IllegalArgumentException("system.hostname comes from the clone's hostname; set the hostname "
                        + "pattern instead");
            }
            if (value.contains("\n") || value.contains("\0")) {
                throw new IllegalArgumentException("credential " + name + ": an SMBIOS string holds one line");
            }
            credentials.put(name, value);
            return this;
        }

        public GuestIdentity build() {
            return new GuestIdentity(this);
        }
    }
}
