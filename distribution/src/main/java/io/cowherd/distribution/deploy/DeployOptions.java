package io.cowherd.distribution.deploy;

import io.cowherd.domain.GuestIdentity;
import java.util.Locale;
import java.util.Objects;

/**
 * What {@link Deployer#deploy} makes: how many domains, their names and identity, whether they
 * start, and whether anything is done at all ({@link #dryRun()}).
 */
public final class DeployOptions {
    private final String master;
    private final int count;
    private final String namePattern;
    private final int firstIndex;
    private final GuestIdentity identity;
    private final boolean start;
    private final boolean dryRun;
    private final java.util.function.Consumer<String> progress;

    private DeployOptions(Builder b) {
        this.progress = b.progress;
        this.master = b.master;
        this.count = b.count;
        this.namePattern = b.namePattern;
        this.firstIndex = b.firstIndex;
        this.identity = b.identity;
        this.start = b.start;
        this.dryRun = b.dryRun;
    }

    /** The defaults: one domain, named {@code MASTER-1}, started, no identity. */
    public static Builder builder() {
        return new Builder();
    }

    /** The master's name in the pool, or null for the bundle's directory name. */
    public String master() {
        return master;
    }

    /** How many domains the deployment has. */
    public int count() {
        return count;
    }

    /** The {@link String#format} pattern of the domains' names, or null for {@code MASTER-%d}. */
    public String namePattern() {
        return namePattern;
    }

    /** The index of the first domain. */
    public int firstIndex() {
        return firstIndex;
    }

    /** The identity each domain gets through its virtual hardware. */
    public GuestIdentity identity() {
        return identity;
    }

    /** Whether the domains are started (those defined but shut off too). */
    public boolean start() {
        return start;
    }

    /** Whether only the plan is made and reported, nothing created, imported, defined or started. */
    public boolean dryRun() {
        return dryRun;
    }

    /** Told each step as it begins, in a sentence ("importing disk.raw as master golden"). */
    public java.util.function.Consumer<String> progress() {
        return progress;
    }

    /** The name of domain {@code index} of a deployment of master {@code masterName}. */
    public String nameFor(String masterName, int index) {
        return String.format(Locale.ROOT, namePattern != null ? namePattern : masterName.replace("%", "%%") + "-%d", index);
    }

    /** Builds {@link DeployOptions}. */
    public static final class Builder {
        private String master;
        private int count = 1;
        private String namePattern;
        private int firstIndex = 1;
        private GuestIdentity identity = GuestIdentity.NONE;
        private boolean start = true;
        private boolean dryRun;
        private java.util.function.Consumer<String> progress = step -> { };

        private Builder() {
        }

        /** Tells {@code listener} each step as it begins (default: nobody). */
        public Builder progress(java.util.function.Consumer<String> listener) {
            this.progress = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The master's name in the pool (default: the bundle's directory name). */
        public Builder master(String name) {
            this.master = name;
            return this;
        }

        /** How many domains (at least 1). */
        public Builder count(int count) {
            if (count < 1) {
                throw new IllegalArgumentException("a deployment has at least one domain, not " + count);
            }
            this.count = count;
            return this;
        }

        /** Names from a pattern with the index, for example {@code web-%02d}. */
        public Builder namePattern(String pattern) {
            this.namePattern = pattern;
            return this;
        }

        /** The index of the first domain (default 1). */
        public Builder firstIndex(int index) {
            this.firstIndex = index;
            return this;
        }

        /** The identity each domain gets (default {@link GuestIdentity#NONE}). */
        public Builder identity(GuestIdentity identity) {
            this.identity = Objects.requireNonNull(identity, "identity");
            return this;
        }

        /** Whether the domains start (default true). */
        public Builder start(boolean start) {
            this.start = start;
            return this;
        }

        /** Plan and report only (default false). */
        public Builder dryRun(boolean dryRun) {
            this.dryRun = dryRun;
            return this;
        }

        public DeployOptions build() {
            return new DeployOptions(this);
        }
    }
}
