package io.cowherd;

/** A volume, master or image file that was named does not exist. */
public class NoSuchVolumeException extends CowException {
    private static final long serialVersionUID = 1L;

    public NoSuchVolumeException(String message) {
        super(message);
    }
}
