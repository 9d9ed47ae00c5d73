package io.cowherd.internal.pool;

import io.cowherd.MasterInUseException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeNames;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The checks every pool makes, whatever it keeps its record in, so the rules (and the words the
 * user reads when one is broken) are the same in every backend. {@link RecordedPool} uses them on
 * its journal; the LVM pool, whose record is its LV tags, calls them directly.
 */
public final class PoolChecks {
    private PoolChecks() {
    }

    /**
     * New volume names: each follows the one rule ({@link VolumeNames}) and none repeats.
     *
     * @throws IllegalArgumentException naming the first name that breaks a rule
     */
    public static void checkNewNames(List<String> names) {
        names.forEach(VolumeNames::check);
        if (names.stream().distinct().count() != names.size()) {
            throw new IllegalArgumentException("clone names repeat: " + names);
        }
    }

    /** The pool records no volume called {@code name}. */
    public static NoSuchVolumeException noVolume(Path pool, String name) {
        return new NoSuchVolumeException("no volume named '" + name + "' in pool " + pool);
    }

    /** The master asked to be cloned is not there. */
    public static NoSuchVolumeException noMaster(Path pool, String name) {
        return new NoSuchVolumeException("no master named '" + name + "' in pool " + pool);
    }

    /**
     * Throws unless {@code role} is a master's: only masters are cloned. {@code wayOut} says what
     * the user can do instead (it differs by what the backend can turn into a master).
     */
    public static void requireMaster(String name, Volume.Role role, String wayOut) {
        if (role != Volume.Role.MASTER) {
            throw new UnsupportedFeatureException("'" + name + "' is a " + lower(role) + ", not a master; " + wayOut);
        }
    }

    /**
     * Throws unless {@code role} is a clone's: only clones are committed, promoted or flattened.
     *
     * @param what what was asked ("committed"), said in the message; null to leave it out
     */
    public static void requireClone(Path pool, String name, Volume.Role role, String what) {
        if (role != Volume.Role.CLONE) {
            throw new UnsupportedFeatureException("'" + name + "' in pool " + pool + " is a " + lower(role)
                    + ", not a clone" + (what == null ? "" : "; only a clone can be " + what));
        }
    }

    /** The pool already has a volume called {@code name}. */
    public static VolumeExistsException nameTaken(Path pool, String name) {
        return new VolumeExistsException("pool " + pool + " already has a volume named '" + name + "'");
    }

    /** A file is where a new volume would go, but the pool does not record it. */
    public static VolumeExistsException unrecordedFile(Path file, Path pool, String wayOut) {
        return new VolumeExistsException(file + " already exists but is not recorded in pool " + pool + "; " + wayOut);
    }

    /** Adoption of something the pool already records (by name, or by what it is). */
    public static VolumeExistsException alreadyRecorded(Path pool, String what) {
        return new VolumeExistsException("pool " + pool + " already records " + what);
    }

    /**
     * A master is deleted only once nothing depends on it.
     *
     * @throws MasterInUseException listing {@code clones} unless it is empty
     */
    public static void refuseDeleteWhileCloned(Path pool, String master, List<String> clones) {
        if (!clones.isEmpty()) {
            throw new MasterInUseException(pool.toString(), master, clones);
        }
    }

    /**
     * A master changes only while no other clone depends on it (a master never changes under a clone).
     *
     * @param refused what was asked ("commit clone 'x' into it")
     * @param wayOut what the user can do instead
     * @throws MasterInUseException listing {@code others} unless it is empty
     */
    public static void refuseChangeWhileCloned(Path pool, String master, List<String> others, String refused,
            String wayOut) {
        if (!others.isEmpty()) {
            throw new MasterInUseException(pool.toString(), master, others, refused, wayOut);
        }
    }

    private static String lower(Volume.Role role) {
        return role.name().toLowerCase(Locale.ROOT);
    }
}
