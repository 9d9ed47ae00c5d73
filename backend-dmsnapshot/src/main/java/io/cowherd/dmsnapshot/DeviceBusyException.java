package io.cowherd.dmsnapshot;

import io.cowherd.CowException;

/** A volume's device is open (a virtual machine or another program uses it), so it was left alone. */
public class DeviceBusyException extends CowException {
    private static final long serialVersionUID = 1L;

    /** A busy device, described by {@code message}. */
    public DeviceBusyException(String message) {
        super(message);
    }
}
