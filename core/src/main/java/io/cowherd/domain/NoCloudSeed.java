package io.cowherd.domain;

import de.waldheinz.fs.FsFile;
import de.waldheinz.fs.fat.FatFileSystem;
import de.waldheinz.fs.fat.FatType;
import de.waldheinz.fs.fat.SuperFloppyFormatter;
import de.waldheinz.fs.util.FileDisk;
import io.cowherd.CowIOException;
import io.cowherd.VolumeExistsException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * A cloud-init NoCloud seed disk for each clone: a small FAT file system labelled
 * {@value #FAT_LABEL} (cloud-init looks for {@value #LABEL} in either case) holding {@code meta-data} (the clone's instance id, its UUID, and hostname) and
 * {@code user-data}, attached to the clone read-only. cloud-init finds it by its label at the
 * guest's first boot. The user data is either cowherd's own cloud-config (hostname, SSH
 * authorized keys, a user script run once) or a template of the caller's with per-clone
 * variables: {@code {{name}}}, {@code {{hostname}}}, {@code {{index}}}, {@code {{uuid}}} and
 * {@code {{ssh_authorized_keys}}} (a YAML flow list of the keys). The image is 1 MiB, sparse; a
 * few KiB are written. Written with fat32-lib, a Java FAT implementation.
 */
public final class NoCloudSeed {
    /** The file system label cloud-init's NoCloud data source looks for (either case). */
    public static final String LABEL = "cidata";
    /**
     * As FAT stores it: upper case, padded with spaces to 11 bytes (fat32-lib pads with NULs, and
     * dosfstools rejects a label with NULs or lower case in the root directory).
     */
    static final String FAT_LABEL = "CIDATA";
    /** The seed image's size: FAT12's smallest comfortable size, sparse on the host. */
    static final long IMAGE_BYTES = 1L << 20;
    /** Where cowherd's default user data puts the user script in the guest. */
    public static final String SCRIPT_PATH = "/var/lib/cowherd/user-script";

    private final String userDataTemplate;
    private final List<String> sshKeys;
    private final byte[] userScript;
    private final Path directory;

    private NoCloudSeed(Builder b) {
        this.userDataTemplate = b.userDataTemplate;
        this.sshKeys = List.copyOf(b.sshKeys);
        this.userScript = b.userScript;
        this.directory = b.directory == null ? null : b.directory.toAbsolutePath().normalize();
    }

    /** A builder: cowherd's default user data, no keys, no script, the seeds in {@code POOL/.seeds}. */
    public static Builder builder() {
        return new Builder();
    }

    /** Where the clones' seed images go, or null for the pool's directory's {@code .seeds}. */
    public Path directory() {
        return directory;
    }

    /** The seed image file of clone {@code cloneName} in {@code dir}. */
    static Path imageFor(Path dir, String cloneName) {
        return dir.resolve(cloneName + "-" + LABEL + ".img");
    }

    /** The {@code meta-data} of a clone. */
    public String metaData(UUID instance, String hostname) {
        return "instance-id: " + instance + "\nlocal-hostname: " + hostname + "\n";
    }

    /** The {@code user-data} of clone {@code name}, number {@code index}, with {@code hostname} and {@code uuid}. */
    public String userData(String name, int index, String hostname, UUID uuid) {
        String keys = "[" + String.join(", ", sshKeys.stream().map(NoCloudSeed::quoted).toList()) + "]";
        if (userDataTemplate != null) {
            return userDataTemplate.replace("{{name}}", name).replace("{{hostname}}", hostname)
                    .replace("{{index}}", Integer.toString(index)).replace("{{uuid}}", uuid.toString())
                    .replace("{{ssh_authorized_keys}}", keys);
        }
        StringBuilder u = new StringBuilder("#cloud-config\n");
        u.append("hostname: ").append(hostname).append('\n');
        if (!sshKeys.isEmpty()) {
            u.append("ssh_authorized_keys: ").append(keys).append('\n');
        }
        if (userScript != null) {
            u.append("write_files:\n  - path: ").append(SCRIPT_PATH).append("\n    permissions: '0755'\n    encoding: b64\n")
                    .append("    content: ").append(Base64.getEncoder().encodeToString(userScript)).append('\n');
            u.append("runcmd:\n  - [").append(SCRIPT_PATH).append(", ").append(quoted(name)).append(", '").append(index)
                    .append("']\n");
        }
        return u.toString();
    }

    /**
     * Writes clone {@code name}'s seed image at {@code image}, a new file.
     *
     * @throws VolumeExistsException if {@code image} exists
     */
    public void write(Path image, String name, int index, String hostname, UUID uuid) {
        if (Files.exists(image)) {
            throw new VolumeExistsException("seed image " + image + " already exists");
        }
        try {
            Files.createDirectories(image.getParent());
            FileDisk disk = FileDisk.create(image.toFile(), IMAGE_BYTES); // not AutoCloseable
            try {
                FatFileSystem fs = SuperFloppyFormatter.get(disk).setFatType(FatType.FAT12).setVolumeLabel(String.format("%-11s", FAT_LABEL)).format();
                add(fs, "meta-data", metaData(uuid, hostname));
                add(fs, "user-data", userData(name, index, hostname, uuid));
                fs.close();
            } finally {
                if (!disk.isClosed()) {
                    disk.close();
                }
            }
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(image);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw CowIOException.wrap(image, "writing the NoCloud seed image", (IOException) e);
        }
    }

    private static void add(FatFileSystem fs, String name, String text) throws IOException {
        FsFile f = fs.getRoot().addFile(name).getFile();
        f.write(0, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
        f.flush();
    }

    /** A YAML double-quoted scalar (JSON's string syntax, which YAML accepts). */
    private static String quoted(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    /** Builds {@link NoCloudSeed}. */
    public static final class Builder {
        private String userDataTemplate;
        private final List<String> sshKeys = new ArrayList<>();
        private byte[] userScript;
        private Path directory;

        private Builder() {
        }

        /**
         * The user data, with the variables {@code {{name}}}, {@code {{hostname}}},
         * {@code {{index}}}, {@code {{uuid}}}, {@code {{ssh_authorized_keys}}} replaced per clone
         * (default: cowherd's cloud-config from the hostname, keys and script).
         */
        public Builder userDataTemplate(String template) {
            this.userDataTemplate = Objects.requireNonNull(template, "template");
            return this;
        }

        /** An SSH public key authorized in every clone (one line, as in {@code authorized_keys}). */
        public Builder sshAuthorizedKey(String key) {
            String k = key.strip();
            if (k.isEmpty() || k.contains("\n")) {
                throw new IllegalArgumentException("an SSH authorized key is one non-empty line");
            }
            sshKeys.add(k);
            return this;
        }

        /** A script every clone runs once at its first boot, with its name and index as arguments. */
        public Builder userScript(byte[] script) {
            this.userScript = script.clone();
            return this;
        }

        /** Where the seed images go (default: {@code .seeds} in the pool's directory). */
        public Builder directory(Path dir) {
            this.directory = dir;
            return this;
        }

        /**
         * @throws IllegalArgumentException if a script is given with a template (put it in the
         *     template) or the template has no content
         */
        public NoCloudSeed build() {
            if (userDataTemplate != null && userScript != null) {
                throw new IllegalArgumentException("a user script goes into cowherd's own user data; with a user-data "
                        + "template, put the script in the template");
            }
            if (userDataTemplate != null && userDataTemplate.isBlank()) {
                throw new IllegalArgumentException("the user-data template is empty");
            }
            return new NoCloudSeed(this);
        }
    }
}
