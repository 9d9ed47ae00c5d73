package io.cowherd.dmsnapshot;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loop devices through their ioctls ({@code linux/loop.h}): what {@code losetup} does, without
 * a process per call. Devices are attached with {@code LOOP_CONFIGURE} (Linux 5.8+), never
 * with autoclear, so they outlive the descriptor that set them up.
 */
final class LoopDevices {
    private static final Logger LOG = LoggerFactory.getLogger(LoopDevices.class);
    private static final long LOOP_CLR_FD = 0x4C01;
    private static final long LOOP_SET_CAPACITY = 0x4C07;
    private static final long LOOP_CONFIGURE = 0x4C0A;
    private static final long LOOP_CTL_GET_FREE = 0x4C82;
    private static final int LO_FLAGS_READ_ONLY = 1;
    /** sizeof(struct loop_config): fd, block_size, struct loop_info64 (232), 8 reserved u64. */
    private static final int CONFIG_SIZE = 304;
    /** Offset of loop_info64.lo_flags inside struct loop_config. */
    private static final int FLAGS_OFFSET = 8 + 52;
    private static final int FILE_NAME_OFFSET = 8 + 56;
    private static final int EBUSY = 16;

    private LoopDevices() {
    }

    /** One attached loop device. */
    public record Loop(int number, Path backingFile) {
        /** {@code /dev/loopN}. */
        public Path device() {
            return Path.of("/dev/loop" + number);
        }

        /** The device number as the device mapper writes it in tables, {@code 7:N}. */
        public String majorMinor() {
            return "7:" + number;
        }
    }

    /**
     * Attaches {@code file} to a free loop device, read-only or not. Retries when another
     * process takes the same free device first.
     */
    public static Loop attach(Path file, boolean readOnly) {
        Path abs = file.toAbsolutePath().normalize();
        int fileFd = LibC.openOrThrow(abs.toString(), readOnly ? LibC.O_RDONLY : LibC.O_RDWR, "to attach it");
        try {
            for (int attempt = 0; ; attempt++) {
                int n = freeDevice();
                int loopFd = LibC.openOrThrow("/dev/loop" + n, LibC.O_RDWR, "to attach " + abs);
                try (Memory cfg = new Memory(CONFIG_SIZE)) {
                    cfg.clear();
                    cfg.setInt(0, fileFd);
                    cfg.setInt(FLAGS_OFFSET, readOnly ? LO_FLAGS_READ_ONLY : 0);
                    byte[] name = abs.toString().getBytes(StandardCharsets.UTF_8);
                    cfg.write(FILE_NAME_OFFSET, name, 0, Math.min(name.length, 63));
                    LibC.ioctl(loopFd, LOOP_CONFIGURE, cfg);
                    LOG.debug("attached {} to /dev/loop{}{}", abs, n, readOnly ? " read-only" : "");
                    return new Loop(n, abs);
                } catch (LastErrorException e) {
                    if (e.getErrorCode() == EBUSY && attempt < 100) {
                        continue; // another process configured this one between GET_FREE and CONFIGURE
                    }
                    throw new KernelException("cannot attach " + abs + " to /dev/loop" + n + ": "
                            + LibC.describe(e), e.getErrorCode());
                } finally {
                    LibC.closeQuietly(loopFd);
                }
            }
        } finally {
            LibC.closeQuietly(fileFd);
        }
    }

    /** Detaches loop device {@code number}; a device already free is fine. */
    public static void detach(int number) {
        int fd;
        try {
            fd = LibC.open("/dev/loop" + number, LibC.O_RDONLY | LibC.O_CLOEXEC);
        } catch (LastErrorException e) {
            return; // no such device: nothing attached
        }
        try {
            LibC.ioctl(fd, LOOP_CLR_FD, 0L);
        } catch (LastErrorException e) {
            if (e.getErrorCode() != 6) { // ENXIO: not attached
                throw new KernelException("cannot detach /dev/loop" + number + ": " + LibC.describe(e),
                        e.getErrorCode());
            }
        } finally {
            LibC.closeQuietly(fd);
        }
    }

    /** Makes loop device {@code number} take the current size of its (grown) backing file. */
    public static void refreshCapacity(int number) {
        int fd = LibC.openOrThrow("/dev/loop" + number, LibC.O_RDONLY, "to refresh its capacity");
        try {
            LibC.ioctl(fd, LOOP_SET_CAPACITY, 0L);
        } catch (LastErrorException e) {
            throw new KernelException("cannot refresh the capacity of /dev/loop" + number + ": "
                    + LibC.describe(e), e.getErrorCode());
        } finally {
            LibC.closeQuietly(fd);
        }
    }

    /** The file loop device {@code number} is attached to, if it is attached. */
    public static Optional<Path> backingFile(int number) {
        Path f = Path.of("/sys/block/loop" + number + "/loop/backing_file");
        try {
            String s = Files.readString(f).trim();
            // The kernel appends " (deleted)" when the file was unlinked while attached.
            return Optional.of(Path.of(s));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Every attached loop device whose backing file lies under {@code directory}. */
    public static List<Loop> attachedUnder(Path directory) {
        Path dir = directory.toAbsolutePath().normalize();
        List<Loop> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/sys/block"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (n.startsWith("loop")) {
                    int number = Integer.parseInt(n.substring(4));
                    backingFile(number).filter(b -> b.startsWith(dir))
                            .ifPresent(b -> out.add(new Loop(number, b)));
                }
            }
        } catch (IOException e) {
            LOG.debug("cannot list /sys/block: {}", e.toString());
        }
        return out;
    }

    private static int freeDevice() {
        int ctl = LibC.openOrThrow("/dev/loop-control", LibC.O_RDWR, "(is the loop module loaded, and are we root?)");
        try {
            return LibC.ioctl(ctl, LOOP_CTL_GET_FREE, 0L);
        } catch (LastErrorException e) {
            throw new KernelException("no free loop device: " + LibC.describe(e), e.getErrorCode());
        } finally {
            LibC.closeQuietly(ctl);
        }
    }
}
