package io.cowherd;

/** Told what {@link Pool#checkFill} or {@link Pool#watch} found; called on the checking thread. */
public interface FillListener {
    /** {@code fill} reached the warning threshold {@code threshold} percent. */
    void warning(Fill fill, int threshold);

    /** {@code fill} was grown to {@code newSize} bytes. */
    default void extended(Fill fill, long newSize) {
    }

    /** {@code fill} needed growing but could not grow: {@code reason}. */
    default void cannotExtend(Fill fill, String reason) {
    }

    /** {@code fill} overflowed or failed: the clone it belongs to is lost. Reported once per clone. */
    default void lost(Fill fill) {
    }
}
