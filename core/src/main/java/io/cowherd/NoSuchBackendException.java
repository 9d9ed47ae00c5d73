package io.cowherd;

import java.util.Collection;

/** No backend with the requested name is on the class path. */
public class NoSuchBackendException extends CowException {
    private static final long serialVersionUID = 1L;

    public NoSuchBackendException(String name, Collection<String> available) {
        super("no cowherd backend named '" + name + "'; available: "
                + (available.isEmpty() ? "(none: add a backend module such as cowherd-backend-qcow2)"
                        : String.join(", ", available)));
    }
}
