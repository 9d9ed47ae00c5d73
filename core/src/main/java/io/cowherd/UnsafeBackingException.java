package io.cowherd;

/**
 * A backing reference points where the {@link ImagePolicy} forbids (outside the pool, a
 * protocol or {@code json:} name, an unrecorded format), or a chain is too deep or loops.
 */
public class UnsafeBackingException extends CowException {
    private static final long serialVersionUID = 1L;

    public UnsafeBackingException(String message) {
        super(message);
    }
}
