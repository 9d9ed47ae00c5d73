package io.cowherd.internal.io;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Host file facts that java.nio does not expose, through libc with JNA. */
public final class HostFiles {
    private static final Logger LOG = LoggerFactory.getLogger(HostFiles.class);
    /** {@code st_blocks} sits at byte 64 of {@code struct stat} on both x86_64 and aarch64 Linux. */
    private static final int ST_BLOCKS_OFFSET = 64;
    private static final int STAT_SIZE = 256;

    private HostFiles() {
    }

    /** The libc functions we need; glibc 2.33 and later export {@code stat} itself. */
    private static final class LibC {
        static final int O_RDONLY = 0;
        static final int O_CLOEXEC = 0x80000;
        static final int SEEK_DATA = 3;
        static final int SEEK_HOLE = 4;
        static final int ENXIO = 6;

        static native int stat(String path, Memory buf);

        static native int open(String path, int flags) throws LastErrorException;

        static native long lseek(int fd, long offset, int whence) throws LastErrorException;

        static native int close(int fd) throws LastErrorException;

        static final boolean LOADED = load();

        private static boolean load() {
            if (!Platform.isLinux() || !(Platform.isIntel() && Platform.is64Bit() || Platform.isARM() && Platform.is64Bit())) {
                return false;
            }
            try {
                Native.register(LibC.class, Platform.C_LIBRARY_NAME);
                return true;
            } catch (UnsatisfiedLinkError | RuntimeException e) {
                LOG.debug("libc unavailable: allocated sizes will be apparent sizes, holes unknown: {}", e.toString());
                return false;
            }
        }
    }

    /**
     * Bytes the file occupies on its file system ({@code du}, not {@code ls -l}); its apparent
     * size where the platform gives no way to ask.
     */
    public static long allocatedBytes(Path file) throws IOException {
        if (LibC.LOADED) {
            try (Memory buf = new Memory(STAT_SIZE)) {
                buf.clear();
                if (LibC.stat(file.toString(), buf) == 0) {
                    return buf.getLong(ST_BLOCKS_OFFSET) * 512L;
                }
            } catch (UnsatisfiedLinkError e) {
                LOG.debug("libc stat failed: {}", e.toString());
            }
        }
        return Files.size(file);
    }

    /**
     * Where a file's data and holes lie, as its file system tells (lseek SEEK_DATA and SEEK_HOLE,
     * on a descriptor of its own), so copies can skip holes without reading them. Where the file
     * system cannot tell, everything counts as data: the answers are never wrong, only less useful.
     */
    public static final class Holes implements Closeable {
        private volatile int fd;

        private Holes(int fd) {
            this.fd = fd;
        }

        /** Opens {@code file} to ask about its holes, or returns null where the platform cannot. */
        public static Holes open(Path file) {
            if (!LibC.LOADED) {
                return null;
            }
            try {
                return new Holes(LibC.open(file.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC));
            } catch (LastErrorException | UnsatisfiedLinkError e) {
                LOG.debug("cannot open {} to find its holes: {}", file, e.toString());
                return null;
            }
        }

        /** The first data byte at or after {@code position}, at most {@code end}; {@code position} if unknown. */
        public long nextData(long position, long end) {
            return seek(position, LibC.SEEK_DATA, position, end);
        }

        /** The first hole byte at or after {@code position}, at most {@code end}; {@code end} if unknown. */
        public long nextHole(long position, long end) {
            return seek(position, LibC.SEEK_HOLE, end, end);
        }

        private long seek(long position, int whence, long unknown, long end) {
            int f = fd;
            if (f < 0) {
                return unknown;
            }
            try {
                return Math.min(end, LibC.lseek(f, position, whence));
            } catch (LastErrorException e) {
                if (e.getErrorCode() == LibC.ENXIO) {
                    return end; // at or past the end of the file: only a hole follows
                }
                LOG.debug("lseek {} on fd {} failed: {}", whence, f, e.toString());
                return unknown;
            }
        }

        @Override
        public void close() {
            int f = fd;
            fd = -1;
            if (f >= 0) {
                try {
                    LibC.close(f);
                } catch (LastErrorException e) {
                    LOG.debug("closing fd {}: {}", f, e.toString());
                }
            }
        }
    }
}
