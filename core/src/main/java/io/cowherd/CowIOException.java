package io.cowherd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** An I/O error from the operating system while working on a file, with the file named. */
public class CowIOException extends CowException {
    private static final long serialVersionUID = 1L;

    public CowIOException(String message, IOException cause) {
        super(message + ": " + cause, cause);
    }

    /**
     * Turns an I/O error into the most specific cowherd error: running out of space becomes
     * {@link OutOfSpaceException}, anything else a {@link CowIOException}.
     */
    public static CowException wrap(Path file, String action, IOException e) {
        String text = String.valueOf(e.getMessage());
        if (text.contains("No space left") || text.contains("Disk quota exceeded")) {
            return new OutOfSpaceException("no space left on the device holding " + file + " while " + action
                    + "; free space or move the pool", e);
        }
        if (e instanceof java.nio.file.NoSuchFileException) {
            return new NoSuchVolumeException(file + " does not exist (while " + action + ")");
        }
        return new CowIOException(action + " " + file + " failed", e);
    }

    /** Same as {@link #wrap(Path, String, IOException)} for an unchecked I/O error. */
    public static CowException wrap(Path file, String action, UncheckedIOException e) {
        return wrap(file, action, e.getCause());
    }
}
