package io.cowherd;

import java.nio.file.Path;

/** A pool was opened with another backend than the one its own record names. */
public class WrongBackendException extends CowException {
    private static final long serialVersionUID = 1L;

    public WrongBackendException(Path location, String recorded, String asked) {
        super("pool " + location + " belongs to backend '" + recorded + "', not '" + asked
                + "'; leave the backend out (the pool names its own) or name '" + recorded + "'");
    }
}
