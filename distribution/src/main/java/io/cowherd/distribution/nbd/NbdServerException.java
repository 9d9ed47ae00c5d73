package io.cowherd.distribution.nbd;

import io.cowherd.CowException;

/** The server could not start: its socket path is taken or unusable, or its exports are inconsistent. */
public class NbdServerException extends CowException {
    private static final long serialVersionUID = 1L;

    /** @param message what failed, naming the socket path or the export */
    public NbdServerException(String message) {
        super(message);
    }

    /**
     * @param message what failed, naming the socket path or the export
     * @param cause the underlying error
     */
    public NbdServerException(String message, Throwable cause) {
        super(message, cause);
    }
}
