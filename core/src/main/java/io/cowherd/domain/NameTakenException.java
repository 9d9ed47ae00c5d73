package io.cowherd.domain;

import io.cowherd.CowException;
import java.util.Map;

/**
 * Clone names of a batch are taken (by a domain, a volume, a file or the source itself), and
 * nothing was made. Choose another name pattern or first index, remove what is in the way, or
 * let taken names be skipped ({@link DomainCloneOptions.NameConflict#SKIP}).
 */
public class NameTakenException extends CowException {
    private static final long serialVersionUID = 1L;
    private final transient Map<String, String> conflicts;

    public NameTakenException(String sourceName, Map<String, String> conflicts) {
        super("cannot clone domain '" + sourceName + "', nothing was made: " + String.join("; ", conflicts.values())
                + ". Remove what is in the way, choose another name pattern or first index, or let taken names be "
                + "skipped (NameConflict.SKIP)");
        this.conflicts = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(conflicts));
    }

    /** Each taken name and what takes it. */
    public Map<String, String> conflicts() {
        return conflicts == null ? Map.of() : conflicts;
    }
}
