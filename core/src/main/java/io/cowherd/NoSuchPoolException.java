package io.cowherd;

import java.nio.file.Path;

/** No pool lives where one was named: nothing there, a plain file, or a directory without a pool record. */
public class NoSuchPoolException extends CowException {
    private static final long serialVersionUID = 1L;
    private final Path location;

    public NoSuchPoolException(Path location, String message) {
        super(message);
        this.location = location;
    }

    /** Where the pool was expected. */
    public Path location() {
        return location;
    }
}
