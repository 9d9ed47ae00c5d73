package io.cowherd;

/**
 * Root of every error cowherd reports. Unchecked, so that callers handle the cases they care
 * about by subclass and let the rest travel; the message always says what happened, where
 * (file, field, offset when known) and what to do about it.
 */
public class CowException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CowException(String message) {
        super(message);
    }

    public CowException(String message, Throwable cause) {
        super(message, cause);
    }
}
