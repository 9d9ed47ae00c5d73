package io.cowherd;

/** An image breaks a limit of the {@link ImagePolicy} (format not allowed, too large). */
public class PolicyViolationException extends CowException {
    private static final long serialVersionUID = 1L;

    public PolicyViolationException(String message) {
        super(message);
    }
}
