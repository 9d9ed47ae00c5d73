package io.cowherd;

/** A write was attempted on a master or a disk opened read-only. */
public class ReadOnlyVolumeException extends CowException {
    private static final long serialVersionUID = 1L;

    public ReadOnlyVolumeException(String message) {
        super(message);
    }
}
