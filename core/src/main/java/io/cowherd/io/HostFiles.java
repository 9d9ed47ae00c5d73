package io.cowherd.io;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
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
        static native int stat(String path, Memory buf);

        static final boolean LOADED = load();

        private static boolean load() {
            if (!Platform.isLinux() || !(Platform.isIntel() && Platform.is64Bit() || Platform.isARM() && Platform.is64Bit())) {
                return false;
            }
            try {
                Native.register(LibC.class, Platform.C_LIBRARY_NAME);
                return true;
            } catch (UnsatisfiedLinkError | RuntimeException e) {
                LOG.debug("libc stat unavailable, allocated sizes will be apparent sizes: {}", e.toString());
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
}
