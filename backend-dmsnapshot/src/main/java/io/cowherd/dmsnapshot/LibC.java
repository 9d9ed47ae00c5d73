package io.cowherd.dmsnapshot;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The few libc calls the device mapper and loop devices need, bound directly with JNA (no
 * process per call: inside the test kernel a process start costs 0.1-0.5 s, an ioctl microseconds).
 */
final class LibC {
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 0x80000;

    static {
        if (!Platform.isLinux()) {
            throw new UnsupportedOperationException("the dm-snapshot backend needs Linux");
        }
        Native.register(LibC.class, Platform.C_LIBRARY_NAME);
    }

    private LibC() {
    }

    static native int open(String path, int flags) throws LastErrorException;

    static native int close(int fd) throws LastErrorException;

    static native int ioctl(int fd, long request, Pointer arg) throws LastErrorException;

    static native int ioctl(int fd, long request, long arg) throws LastErrorException;

    /** The errno name of a failed call, for messages. */
    static String describe(LastErrorException e) {
        int errno = e.getErrorCode();
        String name = switch (errno) {
            case 1 -> "EPERM";
            case 2 -> "ENOENT";
            case 5 -> "EIO";
            case 6 -> "ENXIO";
            case 13 -> "EACCES";
            case 16 -> "EBUSY";
            case 17 -> "EEXIST";
            case 22 -> "EINVAL";
            case 28 -> "ENOSPC";
            default -> "errno " + errno;
        };
        return name + " (" + e.getMessage() + ")";
    }

    /** Opens {@code path}, turning failure into a {@link KernelException}. */
    static int openOrThrow(String path, int flags, String why) {
        try {
            return open(path, flags | O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new KernelException("cannot open " + path + " " + why + ": " + describe(e), e.getErrorCode());
        }
    }

    static void closeQuietly(int fd) {
        if (fd >= 0) {
            try {
                close(fd);
            } catch (LastErrorException ignored) {
                // nothing useful to do: the descriptor is gone either way
            }
        }
    }
}
