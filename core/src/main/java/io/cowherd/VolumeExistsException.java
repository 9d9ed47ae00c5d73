package io.cowherd;

/** A volume with the requested name already exists; nothing was overwritten. */
public class VolumeExistsException extends CowException {
    private static final long serialVersionUID = 1L;

    public VolumeExistsException(String message) {
        super(message);
    }
}
