package io.cowherd.cli;

import io.cowherd.MasterInUseException;
import io.cowherd.NoSuchBackendException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.OutOfSpaceException;
import io.cowherd.PolicyViolationException;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.UnsafeBackingException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VolumeExistsException;
import io.cowherd.WrongFormatException;

/** The command's exit codes: 0 success, 1 usage, 2 and up one per kind of failure. */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int USAGE = 1;
    /** Any other failure (I/O errors among them). */
    public static final int FAILURE = 2;
    public static final int NOT_FOUND = 3;
    public static final int CORRUPT = 4;
    public static final int UNSUPPORTED = 5;
    public static final int CONFLICT = 6;
    public static final int NO_SPACE = 7;
    public static final int UNSAFE = 8;
    public static final int LIBVIRT = 9;

    private ExitCodes() {
    }

    /** The exit code for an error that ended a command. */
    static int of(Throwable e) {
        if (e instanceof io.cowherd.domain.DomainCloneException && e.getCause() != null) {
            return of(e.getCause()); // one clone of a batch failed (and was rolled back): why is the cause
        }
        if (e instanceof io.cowherd.domain.NameTakenException) {
            return CONFLICT;
        }
        if (e instanceof io.cowherd.domain.LibvirtFailureException l && "VIR_ERR_NO_DOMAIN".equals(l.errorCode())) {
            return NOT_FOUND;
        }
        if (e instanceof NoSuchVolumeException || e instanceof NoSuchBackendException
                || e instanceof io.cowherd.NoSuchPoolException) {
            return NOT_FOUND;
        }
        if (e instanceof io.cowherd.CorruptFileException || e instanceof WrongFormatException) {
            return CORRUPT;
        }
        if (e instanceof UnsupportedFeatureException) {
            return UNSUPPORTED;
        }
        if (e instanceof MasterInUseException || e instanceof VolumeExistsException
                || e instanceof ReadOnlyVolumeException) {
            return CONFLICT;
        }
        if (e instanceof OutOfSpaceException) {
            return NO_SPACE;
        }
        if (e instanceof UnsafeBackingException || e instanceof PolicyViolationException) {
            return UNSAFE;
        }
        if (e instanceof io.cowherd.domain.LibvirtFailureException) {
            return LIBVIRT;
        }
        if (e instanceof IllegalArgumentException || e instanceof io.cowherd.WrongBackendException) {
            return USAGE;
        }
        return FAILURE;
    }
}
