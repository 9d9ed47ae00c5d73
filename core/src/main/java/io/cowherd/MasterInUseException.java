package io.cowherd;

import java.util.List;

/** A master cannot be deleted or changed because clones still depend on it. */
public class MasterInUseException extends CowException {
    private static final long serialVersionUID = 1L;
    private final List<String> clones;

    public MasterInUseException(String pool, String master, List<String> clones) {
        super("master '" + master + "' in pool " + pool + " still has " + clones.size() + " clone(s) ("
                + preview(clones) + "); delete or flatten them first");
        this.clones = List.copyOf(clones);
    }

    /** Names of the clones that still depend on the master. */
    public List<String> clones() {
        return clones;
    }

    private static String preview(List<String> names) {
        return names.size() <= 5 ? String.join(", ", names)
                : String.join(", ", names.subList(0, 5)) + ", ...";
    }
}
