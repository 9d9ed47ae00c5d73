package io.cowherd;

/** The pool's storage has no room for what was asked; nothing was left half-written. */
public class OutOfSpaceException extends CowException {
    private static final long serialVersionUID = 1L;

    public OutOfSpaceException(String message, Throwable cause) {
        super(message, cause);
    }
}
