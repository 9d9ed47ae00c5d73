package io.cowherd.internal.pool;

import io.cowherd.CowException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * File chores shared by the pools that keep volumes as files: masters are read-only on disk (a
 * second guard besides the record), and leftovers of a failed step are removed without hiding
 * the failure that matters.
 */
public final class PoolFiles {
    private static final Logger LOG = LoggerFactory.getLogger(PoolFiles.class);

    private PoolFiles() {
    }

    /** Makes a master file read-only; a file system without POSIX permissions only gets a warning. */
    public static void makeReadOnly(Path file) {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--r--r--"));
        } catch (IOException | UnsupportedOperationException e) {
            LOG.warn("could not make master {} read-only on disk: {}", file, e.toString());
        }
    }

    /** Gives a master file its owner's write bit back, for a change the pool makes to it. */
    public static void makeWritable(Path file) {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("could not make {} writable on disk: {}", file, e.toString());
        }
    }

    /** Runs {@code change} on a master file with its owner's write bit set, then makes it read-only again. */
    public static void withWritable(Path master, Runnable change) {
        makeWritable(master);
        try {
            change.run();
        } finally {
            makeReadOnly(master);
        }
    }

    /** Removes a leftover (a staged copy, a store of a clone that failed); failing to is only logged. */
    public static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (AccessDeniedException e) {
            LOG.warn("could not remove {}: {}", p, e.toString());
        } catch (IOException | CowException e) {
            LOG.debug("could not remove {}: {}", p, e.toString());
        }
    }
}
