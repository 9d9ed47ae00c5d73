package io.cowherd.dmsnapshot;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The device mapper through its ioctls on {@code /dev/mapper/control} ({@code linux/dm-ioctl.h},
 * interface version 4), the calls {@code dmsetup} makes, without starting a process per call.
 * Every device is created with a table of exactly one target, which is all cowherd needs.
 */
final class DeviceMapper {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceMapper.class);
    private static final String CONTROL = "/dev/mapper/control";
    /** sizeof(struct dm_ioctl). */
    private static final int HEADER = 312;
    /** sizeof(struct dm_target_spec). */
    private static final int SPEC = 40;
    private static final int NAME_OFFSET = 48;
    private static final int NAME_LEN = 128;
    private static final int UUID_OFFSET = 176;
    private static final int UUID_LEN = 129;

    private static final int DM_VERSION = 0;
    private static final int DM_LIST_DEVICES = 2;
    private static final int DM_DEV_CREATE = 3;
    private static final int DM_DEV_REMOVE = 4;
    private static final int DM_DEV_SUSPEND = 6;
    private static final int DM_DEV_STATUS = 7;
    private static final int DM_TABLE_LOAD = 9;
    private static final int DM_TABLE_STATUS = 12;

    static final int READONLY_FLAG = 1;
    static final int SUSPEND_FLAG = 2;
    static final int STATUS_TABLE_FLAG = 1 << 4;
    static final int ACTIVE_PRESENT_FLAG = 1 << 5;
    static final int BUFFER_FULL_FLAG = 1 << 8;

    static final int ENXIO = 6;
    static final int EBUSY = 16;

    private DeviceMapper() {
    }

    /** What the kernel says about one mapped device. */
    public record Device(String name, String uuid, int major, int minor, int openCount, boolean suspended,
            boolean active) {
        /** The kernel's node for it, {@code /dev/dm-N}. */
        public Path node() {
            return Path.of("/dev/dm-" + minor);
        }
    }

    /** Whether this kernel has the device mapper and we may drive it. */
    public static boolean available() {
        return Files.isWritable(Path.of(CONTROL));
    }

    /** The kernel's dm interface version, for example {@code 4.47.0}. */
    public static String version() {
        try (Memory m = header(HEADER, null)) {
            call(DM_VERSION, m, "asking the version");
            return m.getInt(0) + "." + m.getInt(4) + "." + m.getInt(8);
        }
    }

    /**
     * Creates device {@code name} with one target {@code type params} over {@code sectors}
     * sectors and activates it. On failure nothing is left behind.
     */
    public static Device create(String name, String uuid, String type, String params, long sectors,
            boolean readOnly) {
        try (Memory m = header(HEADER, name)) {
            setUuid(m, uuid);
            call(DM_DEV_CREATE, m, "creating device " + name);
        }
        try {
            load(name, type, params, sectors, readOnly);
            resume(name);
        } catch (RuntimeException e) {
            try {
                remove(name);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        return status(name).orElseThrow(() -> new KernelException("device " + name + " vanished after creation", 0));
    }

    /** Loads a new (inactive) table into {@code name}; {@link #resume} makes it live. */
    public static void load(String name, String type, String params, long sectors, boolean readOnly) {
        byte[] p = params.getBytes(StandardCharsets.US_ASCII);
        int size = HEADER + SPEC + ((p.length + 1 + 7) & ~7);
        try (Memory m = header(size, name)) {
            m.setInt(20, 1); // target_count
            m.setInt(28, readOnly ? READONLY_FLAG : 0);
            m.setLong(HEADER, 0); // sector_start
            m.setLong(HEADER + 8, sectors);
            m.setInt(HEADER + 16, 0); // status
            m.setInt(HEADER + 20, 0); // next: the only target
            byte[] t = type.getBytes(StandardCharsets.US_ASCII);
            m.write(HEADER + 24, t, 0, Math.min(t.length, 15));
            m.write(HEADER + SPEC, p, 0, p.length);
            call(DM_TABLE_LOAD, m, "loading table '" + type + " " + params + "' into " + name);
        }
    }

    /** Suspends {@code name}: I/O queues until {@link #resume}; outstanding writes are flushed first. */
    public static void suspend(String name) {
        try (Memory m = header(HEADER, name)) {
            m.setInt(28, SUSPEND_FLAG);
            call(DM_DEV_SUSPEND, m, "suspending " + name);
        }
    }

    /** Resumes {@code name}, swapping in a table loaded since, if any. */
    public static void resume(String name) {
        try (Memory m = header(HEADER, name)) {
            call(DM_DEV_SUSPEND, m, "resuming " + name);
        }
    }

    /**
     * Removes device {@code name}.
     *
     * @throws DeviceBusyException if it is open
     */
    public static void remove(String name) {
        try (Memory m = header(HEADER, name)) {
            call(DM_DEV_REMOVE, m, "removing " + name);
        } catch (KernelException e) {
            if (e.errno() == EBUSY) {
                throw new DeviceBusyException("device-mapper device " + name + " is open (in use); close it "
                        + "(stop the virtual machine or program using /dev/mapper/" + name + ") and retry");
            }
            throw e;
        }
    }

    /** The device called {@code name}, if it exists. */
    public static Optional<Device> status(String name) {
        try (Memory m = header(HEADER, name)) {
            call(DM_DEV_STATUS, m, "asking about " + name);
            return Optional.of(device(m));
        } catch (KernelException e) {
            if (e.errno() == ENXIO) {
                return Optional.empty();
            }
            throw e;
        }
    }

    /** The live table's status line of {@code name} (what {@code dmsetup status} prints after the target type). */
    public static String targetStatus(String name) {
        return tableOrStatus(name, false);
    }

    /** The live table of {@code name} (what {@code dmsetup table} prints after the target type). */
    public static String table(String name) {
        return tableOrStatus(name, true);
    }

    private static String tableOrStatus(String name, boolean table) {
        int size = 16 * 1024;
        while (true) {
            try (Memory m = header(size, name)) {
                m.setInt(28, table ? STATUS_TABLE_FLAG : 0);
                call(DM_TABLE_STATUS, m, "reading the status of " + name);
                if ((m.getInt(28) & BUFFER_FULL_FLAG) != 0) {
                    size *= 4;
                    continue;
                }
                if (m.getInt(20) == 0) {
                    return "";
                }
                int start = m.getInt(16);
                return m.getString(start + SPEC, StandardCharsets.US_ASCII.name()).trim();
            }
        }
    }

    /** The names of every mapped device in the kernel. */
    public static List<String> list() {
        int size = 64 * 1024;
        while (true) {
            try (Memory m = header(size, null)) {
                call(DM_LIST_DEVICES, m, "listing devices");
                if ((m.getInt(28) & BUFFER_FULL_FLAG) != 0) {
                    size *= 4;
                    continue;
                }
                List<String> names = new ArrayList<>();
                int start = m.getInt(16);
                int used = m.getInt(12);
                if (used <= start) {
                    return names;
                }
                // struct dm_name_list { __u64 dev; __u32 next; char name[]; }; next is relative.
                long at = start;
                while (true) {
                    long dev = m.getLong(at);
                    if (dev == 0 && at == start && m.getInt(at + 8) == 0 && m.getByte(at + 12) == 0) {
                        return names; // an empty list
                    }
                    names.add(m.getString(at + 12, StandardCharsets.US_ASCII.name()));
                    int next = m.getInt(at + 8);
                    if (next == 0) {
                        return names;
                    }
                    at += next;
                }
            }
        }
    }

    private static Device device(Memory m) {
        long dev = m.getLong(40);
        int major = (int) ((dev >> 8) & 0xfff);
        int minor = (int) ((dev & 0xff) | ((dev >> 12) & 0xfff00));
        int flags = m.getInt(28);
        return new Device(m.getString(NAME_OFFSET, StandardCharsets.US_ASCII.name()),
                m.getString(UUID_OFFSET, StandardCharsets.US_ASCII.name()), major, minor, m.getInt(24),
                (flags & SUSPEND_FLAG) != 0, (flags & ACTIVE_PRESENT_FLAG) != 0);
    }

    private static Memory header(int size, String name) {
        Memory m = new Memory(size);
        m.clear();
        m.setInt(0, 4); // interface version 4.0.0: any 4.x kernel accepts it
        m.setInt(4, 0);
        m.setInt(8, 0);
        m.setInt(12, size); // data_size
        m.setInt(16, HEADER); // data_start
        if (name != null) {
            byte[] n = name.getBytes(StandardCharsets.US_ASCII);
            if (n.length >= NAME_LEN) {
                throw new IllegalArgumentException("device-mapper name longer than 127 bytes: " + name);
            }
            m.write(NAME_OFFSET, n, 0, n.length);
        }
        return m;
    }

    private static void setUuid(Memory m, String uuid) {
        if (uuid != null) {
            byte[] u = uuid.getBytes(StandardCharsets.US_ASCII);
            if (u.length >= UUID_LEN) {
                throw new IllegalArgumentException("device-mapper uuid longer than 128 bytes: " + uuid);
            }
            m.write(UUID_OFFSET, u, 0, u.length);
        }
    }

    /** _IOWR(0xfd, nr, struct dm_ioctl). */
    private static long request(int nr) {
        return (3L << 30) | ((long) HEADER << 16) | (0xfdL << 8) | nr;
    }

    /** The control device, opened once: every call otherwise pays an open and a close. */
    private static int controlFd = -1;

    private static synchronized int control() {
        if (controlFd < 0) {
            controlFd = LibC.openOrThrow(CONTROL, LibC.O_RDWR, "(is the dm_mod module loaded, and are we root?)");
        }
        return controlFd;
    }

    private static void call(int nr, Memory m, String what) {
        try {
            LibC.ioctl(control(), request(nr), m);
        } catch (LastErrorException e) {
            LOG.debug("dm ioctl {} failed while {}: {}", nr, what, e.toString());
            throw new KernelException("device mapper refused " + what + ": " + LibC.describe(e), e.getErrorCode());
        }
    }
}
