package io.cowherd.spi;

import java.util.List;

/**
 * What a consistency check found, in {@code qemu-img check}'s terms.
 *
 * @param corruptions errors that make data unsafe to use (refcounts too low, bad offsets, ...)
 * @param leaks clusters or blocks that are allocated but unused (harmless, reclaimable)
 * @param leaksFixed leaks repaired during this check
 * @param problems one line per problem found, for people
 * @param allocatedUnits clusters or blocks allocated to the guest, for the summary line
 * @param totalUnits clusters or blocks the virtual disk has, for the summary line
 * @param imageEndOffset where the image's data ends in its file
 * @param corruptionsFixed corruptions repaired during this check ({@code -r all})
 */
public record CheckReport(long corruptions, long leaks, long leaksFixed, List<String> problems, long allocatedUnits,
        long totalUnits, long imageEndOffset, long corruptionsFixed) {

    public CheckReport {
        problems = List.copyOf(problems);
    }

    /** A report of a check that repaired no corruption. */
    public CheckReport(long corruptions, long leaks, long leaksFixed, List<String> problems, long allocatedUnits,
            long totalUnits, long imageEndOffset) {
        this(corruptions, leaks, leaksFixed, problems, allocatedUnits, totalUnits, imageEndOffset, 0);
    }

    /** {@code qemu-img check}'s exit status: 0 clean, 2 corrupt, 3 only leaks left. */
    public int exitCode() {
        if (corruptions - corruptionsFixed > 0) {
            return 2;
        }
        return leaks - leaksFixed > 0 ? 3 : 0;
    }
}
