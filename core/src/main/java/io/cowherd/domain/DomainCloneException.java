package io.cowherd.domain;

import io.cowherd.CowException;
import java.util.List;

/**
 * Cloning one domain of a batch failed. Everything made for the failed clone (domain
 * definition, disk clones, NVRAM copy, XML file) has been removed again; the clones finished
 * before it stay and are listed in {@link #completed()}. The cause is the original error, often
 * a {@link LibvirtFailureException} or another {@link CowException}.
 */
public class DomainCloneException extends CowException {
    private static final long serialVersionUID = 1L;

    private final String failedName;
    private final transient List<ClonedDomain> completed;

    public DomainCloneException(String message, String failedName, List<ClonedDomain> completed, Throwable cause) {
        super(message, cause);
        this.failedName = failedName;
        this.completed = List.copyOf(completed);
    }

    /** The name of the clone that failed (and was rolled back). */
    public String failedName() {
        return failedName;
    }

    /** The clones finished before the failure, which were kept. */
    public List<ClonedDomain> completed() {
        return completed == null ? List.of() : completed;
    }
}
