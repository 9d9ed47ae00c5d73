package io.cowherd.dmsnapshot;

import io.cowherd.CowException;

/** The kernel refused a device-mapper or loop-device request; the message names the device. */
public class KernelException extends CowException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    /** A refusal with the kernel's error number. */
    public KernelException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    /** The kernel's error number ({@code errno}), or 0 when there was none. */
    public int errno() {
        return errno;
    }
}
