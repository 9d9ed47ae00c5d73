package io.cowherd;

import java.nio.file.Path;

/** A file is not in the format it was declared (or required) to be in. */
public class WrongFormatException extends CowException {
    private static final long serialVersionUID = 1L;

    public WrongFormatException(Path file, String expected, String detail) {
        super(file + " is not a " + expected + " image (" + detail + "); state the right format with -f");
    }
}
