package io.cowherd;

/** The image or the request uses a feature this backend or format does not (yet) support. */
public class UnsupportedFeatureException extends CowException {
    private static final long serialVersionUID = 1L;

    public UnsupportedFeatureException(String message) {
        super(message);
    }
}
