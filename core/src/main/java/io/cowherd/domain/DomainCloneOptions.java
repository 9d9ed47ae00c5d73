package io.cowherd.domain;

import java.nio.file.Path;
import java.util.IllegalFormatException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * What {@link DomainCloner} makes: how many clones, how they are named, whether they are
 * started and where their NVRAM files go. Immutable; made with {@link #builder()}.
 */
public final class DomainCloneOptions {

    /** What to do when a generated name is already taken. */
    public enum NameConflict {
        /** Refuse, before anything is made, and list the names that are taken. */
        FAIL,
        /** Skip the taken name and try the next index, until {@code count} clones are named. */
        SKIP
    }

    private final String namePattern;
    private final int count;
    private final int firstIndex;
    private final boolean start;
    private final Path nvramDirectory;
    private final NameConflict onNameConflict;
    private final Map<String, String> masters;
    private final GuestIdentity identity;
    private final boolean adoptDisks;

    private DomainCloneOptions(Builder b) {
        this.identity = b.identity;
        this.adoptDisks = b.adoptDisks;
        this.masters = Map.copyOf(b.masters);
        this.namePattern = b.namePattern;
        this.count = b.count;
        this.firstIndex = b.firstIndex;
        this.start = b.start;
        this.nvramDirectory = b.nvramDirectory == null ? null : b.nvramDirectory.toAbsolutePath().normalize();
        this.onNameConflict = b.onNameConflict;
    }

    /** A builder with the defaults: one clone, named {@code <source>-clone-<index>}, not started. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The {@link String#format} pattern clone names are made from with the index (for example
     * {@code web-%02d}), or null for the default {@code <source>-clone-<index>}.
     */
    public String namePattern() {
        return namePattern;
    }

    /** How many clones to make. */
    public int count() {
        return count;
    }

    /** The index of the first clone (1 by default). */
    public int firstIndex() {
        return firstIndex;
    }

    /** Whether to start each clone once it is defined. */
    public boolean start() {
        return start;
    }

    /**
     * Where NVRAM copies go; empty means next to the source domain's NVRAM file.
     */
    public Optional<Path> nvramDirectory() {
        return Optional.ofNullable(nvramDirectory);
    }

    /** What to do about names that are taken. */
    public NameConflict onNameConflict() {
        return onNameConflict;
    }

    /** The identity each clone gets through its virtual hardware ({@link GuestIdentity#NONE} by default). */
    public GuestIdentity identity() {
        return identity;
    }

    /**
     * Pool masters chosen for the source's writable disks, by target dev ({@code vda}); the key
     * {@link #ONLY_DISK} stands for the source's only writable disk. A disk without an entry is
     * cloned from the master its file is in the pool, or from a master with the same content,
     * or from a new import of its file.
     */
    public Map<String, String> masters() {
        return masters;
    }

    /**
     * Whether a clone's disk volume (and NVRAM file) that already exists, left behind by a clone
     * of the same name whose domain was undefined, is taken as that clone's disk instead of
     * making the name taken. Only a volume that is a clone of the very master the disk is cloned
     * from is taken; it is never deleted, not even when the clone fails. Off by default.
     */
    public boolean adoptDisks() {
        return adoptDisks;
    }

    /** The key of {@link #masters()} that names the master of a domain's only writable disk. */
    public static final String ONLY_DISK = "";

    /** The name of clone number {@code index} of the domain called {@code sourceName}. */
    public String nameFor(String sourceName, int index) {
        if (namePattern == null) {
            return sourceName + "-clone-" + index;
        }
        return String.format(Locale.ROOT, namePattern, index);
    }

    @Override
    public String toString() {
        return "DomainCloneOptions[namePattern=" + namePattern + ", count=" + count + ", firstIndex=" + firstIndex
                + ", start=" + start + ", nvramDirectory=" + nvramDirectory + ", onNameConflict=" + onNameConflict
                + "]";
    }

    /** Builds {@link DomainCloneOptions}. */
    public static final class Builder {
        private final Map<String, String> masters = new LinkedHashMap<>();
        private String namePattern;
        private int count = 1;
        private int firstIndex = 1;
        private boolean start;
        private Path nvramDirectory;
        private NameConflict onNameConflict = NameConflict.FAIL;
        private GuestIdentity identity = GuestIdentity.NONE;
        private boolean adoptDisks;

        /** The identity each clone gets through SMBIOS: hostname, cloud-init NoCloud, systemd credentials. */
        public Builder identity(GuestIdentity identity) {
            this.identity = java.util.Objects.requireNonNull(identity, "identity");
            return this;
        }

        private Builder() {
        }

        /**
         * The {@link String#format} pattern for names, formatted with the clone's index (an
         * {@code int}, starting at {@link #firstIndex}), for example {@code web-%02d}. A pattern
         * without a conversion is allowed only for a single clone.
         */
        public Builder namePattern(String pattern) {
            this.namePattern = pattern;
            return this;
        }

        /** How many clones to make (at least 1). */
        public Builder count(int count) {
            this.count = count;
            return this;
        }

        /** The index of the first clone (default 1). */
        public Builder firstIndex(int firstIndex) {
            this.firstIndex = firstIndex;
            return this;
        }

        /** Whether to start each clone after defining it (default no). */
        public Builder start(boolean start) {
            this.start = start;
            return this;
        }

        /** Where to put NVRAM copies (default: the directory of the source's NVRAM file). */
        public Builder nvramDirectory(Path directory) {
            this.nvramDirectory = directory;
            return this;
        }

        /**
         * Clones the writable disk {@code targetDev} ({@link #ONLY_DISK} for a domain's only
         * writable disk) from the pool's master {@code master} instead of its own file.
         */
        public Builder master(String targetDev, String master) {
            masters.put(Objects.requireNonNull(targetDev), Objects.requireNonNull(master));
            return this;
        }

        /** Whether disks left by an undefined clone of the same name are taken back ({@link #adoptDisks()}). */
        public Builder adoptDisks(boolean adopt) {
            this.adoptDisks = adopt;
            return this;
        }

        /** What to do about taken names (default {@link NameConflict#FAIL}). */
        public Builder onNameConflict(NameConflict policy) {
            this.onNameConflict = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Checks and builds the options.
         *
         * @throws IllegalArgumentException if the count is below 1, the pattern is not a valid
         *     format for an {@code int}, or it gives the same name to different clones
         */
        public DomainCloneOptions build() {
            if (count < 1) {
                throw new IllegalArgumentException("clone count must be at least 1, not " + count);
            }
            if (firstIndex < 0) {
                throw new IllegalArgumentException("first clone index must not be negative, not " + firstIndex);
            }
            if (namePattern != null) {
                if (namePattern.isBlank()) {
                    throw new IllegalArgumentException("name pattern is empty");
                }
                try {
                    String a = String.format(Locale.ROOT, namePattern, firstIndex);
                    String b = String.format(Locale.ROOT, namePattern, firstIndex + 1);
                    if (a.equals(b) && (count > 1 || onNameConflict == NameConflict.SKIP)) {
                        throw new IllegalArgumentException("name pattern '" + namePattern + "' gives every clone the "
                                + "same name '" + a + "'; put the index in it, for example '" + namePattern + "-%02d'");
                    }
                } catch (IllegalFormatException e) {
                    throw new IllegalArgumentException("name pattern '" + namePattern + "' is not a valid format for "
                            + "the clone index (an int, for example 'web-%02d'): " + e.getMessage(), e);
                }
            }
            return new DomainCloneOptions(this);
        }
    }
}
