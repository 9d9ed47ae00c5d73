package io.cowherd.distribution.torrent;

import io.cowherd.CowException;

/** A fetch made no progress: no peer had the data (or none could be reached) within the timeout. */
public class NoPeerException extends CowException {
    private static final long serialVersionUID = 1L;

    /** @param message what was tried and what to do */
    public NoPeerException(String message) {
        super(message);
    }
}
