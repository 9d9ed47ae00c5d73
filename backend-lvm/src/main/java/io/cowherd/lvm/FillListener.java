package io.cowherd.lvm;

/** Told what {@link LvmPool#checkFill} found; called on the checking thread. */
public interface FillListener {

    /** {@code fill} reached the warning threshold {@code threshold} percent. */
    void warning(Fill fill, int threshold);

    /** {@code fill} was grown to {@code newSize} bytes. */
    default void extended(Fill fill, long newSize) {
    }

    /** {@code fill} needed growing but the volume group has no room: {@code reason}. */
    default void cannotExtend(Fill fill, String reason) {
    }
}
