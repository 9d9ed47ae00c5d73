package io.cowherd;

/**
 * When {@link Pool#checkFill} warns and grows.
 *
 * @param warnPercent warn when a fill level reaches this
 * @param extendPercent grow when a fill level reaches this (101: never)
 * @param extendByPercent grow by this percentage of the current size
 */
public record FillPolicy(int warnPercent, int extendPercent, int extendByPercent) {
    /** Checks the ranges. */
    public FillPolicy {
        if (warnPercent < 1 || warnPercent > 100 || extendPercent < 1 || extendPercent > 101 || extendByPercent < 1) {
            throw new IllegalArgumentException("bad fill policy: warn at " + warnPercent + "% (1-100), grow at "
                    + extendPercent + "% (1-101), by " + extendByPercent + "% (at least 1)");
        }
    }

    /** Warn at 80%, grow by 20% at 70%, like LVM's own autoextend settings would. */
    public static FillPolicy defaults() {
        return new FillPolicy(80, 70, 20);
    }

    /** Warn at {@code percent}, never grow. */
    public static FillPolicy warnOnly(int percent) {
        return new FillPolicy(percent, 101, 1);
    }
}
