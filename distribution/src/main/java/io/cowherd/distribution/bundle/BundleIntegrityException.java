package io.cowherd.distribution.bundle;

import io.cowherd.CorruptFileException;
import java.nio.file.Path;

/** A bundle file's size or SHA-256 does not match its manifest. */
public class BundleIntegrityException extends CorruptFileException {
    private static final long serialVersionUID = 1L;

    /**
     * @param file the file that does not match
     * @param field what does not match ({@code sha256}, {@code size})
     * @param problem expected and actual values
     */
    public BundleIntegrityException(Path file, String field, String problem) {
        super(file, field, -1, problem);
    }
}
