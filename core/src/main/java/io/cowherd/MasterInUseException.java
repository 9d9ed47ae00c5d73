package io.cowherd;

import java.util.List;

/** A master cannot be deleted or changed because clones still depend on it. */
public class MasterInUseException extends CowException {
    private static final long serialVersionUID = 1L;
    private final List<String> clones;

    /** Deleting {@code master} was refused. */
    public MasterInUseException(String pool, String master, List<String> clones) {
        this(pool, master, clones, "delete it", "delete its clones first, or flatten or promote them");
    }

    /**
     * {@code refused} (what was asked, for example "resize it") was refused; {@code wayOut} says
     * what the user can do instead.
     */
    public MasterInUseException(String pool, String master, List<String> clones, String refused, String wayOut) {
        super("cannot " + refused + ": master '" + master + "' in pool " + pool + " still has " + clones.size()
                + " clone(s) (" + preview(clones) + ") and a master never changes while it has clones; " + wayOut);
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
