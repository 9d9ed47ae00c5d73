package io.cowherd.distribution.nbd;

import io.cowherd.CowException;

/**
 * A client broke the NBD protocol in a way that leaves no safe reply (bad magic, unknown client
 * flags, an option or a write payload too large to read): the server logs it and drops that
 * connection, and serves on.
 */
public class NbdProtocolException extends CowException {
    private static final long serialVersionUID = 1L;

    /** @param message what the client sent, and where in the session */
    public NbdProtocolException(String message) {
        super(message);
    }
}
