package io.cowherd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** An I/O error from the operating system while working on a file, with the file named. */
public class CowIOException extends CowException {
    private static final long serialVersionUID = 1L;

    public CowIOException(String message, IOException cause) {
        super(message + ": " + describe(cause), cause);
    }

    /**
     * What the operating system said, without Java's class names: a file system error names its
     * file and the system's reason ("/p/x: Not a directory"), anything else its message.
     */
    static String describe(IOException e) {
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return (f.getFile() == null ? "" : f.getFile() + ": ") + f.getReason();
        }
        if (e.getMessage() == null || e.getMessage().isBlank()) {
            return e.getClass().getSimpleName();
        }
        return e.getMessage();
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
