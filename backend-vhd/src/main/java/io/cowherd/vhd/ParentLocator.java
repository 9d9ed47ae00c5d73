package io.cowherd.vhd;

import io.cowherd.CorruptImageException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * One of the eight 24-byte parent locator entries of a dynamic header: a platform code, the
 * space reserved for its data, the data's length and its offset in the file. The data is the
 * parent's path: {@code W2ku} absolute and {@code W2ru} relative in UTF-16LE, {@code MacX} a
 * UTF-8 {@code file://} URL.
 *
 * @param code platform code ({@link #W2KU}, {@link #W2RU}, {@link #MACX} or another)
 * @param dataSpace space reserved, as recorded (sectors per the specification)
 * @param dataLength bytes of locator data
 * @param dataOffset where the data lies in the file
 */
record ParentLocator(int code, int dataSpace, int dataLength, long dataOffset) {
    static final int ENTRY_SIZE = 24;
    static final int COUNT = 8;
    static final int W2KU = 0x57326B75;
    static final int W2RU = 0x57327275;
    static final int MACX = 0x4D616358;
    /** Generous for any path (4096 characters in UTF-16), small enough to never hurt. */
    static final int MAX_DATA_LENGTH = 16384;

    static ParentLocator parse(ByteBuffer header, int entryOffset) {
        return new ParentLocator(header.getInt(entryOffset), header.getInt(entryOffset + 4),
                header.getInt(entryOffset + 8), header.getLong(entryOffset + 16));
    }

    void writeTo(ByteBuffer header, int entryOffset) {
        header.putInt(entryOffset, code);
        header.putInt(entryOffset + 4, dataSpace);
        header.putInt(entryOffset + 8, dataLength);
        header.putInt(entryOffset + 12, 0);
        header.putLong(entryOffset + 16, dataOffset);
    }

    boolean isEmpty() {
        return code == 0;
    }

    boolean isKnown() {
        return code == W2KU || code == W2RU || code == MACX;
    }

    String platform() {
        return switch (code) {
            case W2KU -> "W2ku";
            case W2RU -> "W2ru";
            case MACX -> "MacX";
            default -> String.format("0x%08x", code);
        };
    }

    /** Checks the entry's data lies inside the file; {@code fieldOffset} is where the entry lives. */
    void validate(Path file, long fieldOffset, long fileSize) {
        if (dataLength < 0 || dataLength > MAX_DATA_LENGTH) {
            throw new CorruptImageException(file, "parent locator " + platform() + " data_length", fieldOffset + 8,
                    dataLength + " is outside 0.." + MAX_DATA_LENGTH);
        }
        if (dataOffset < 0 || dataOffset % 512 != 0 || dataOffset > fileSize - dataLength) {
            throw new CorruptImageException(file, "parent locator " + platform() + " data_offset", fieldOffset + 16,
                    dataOffset + " (" + dataLength + " bytes) is not a sector-aligned range inside the file ("
                            + fileSize + " bytes)");
        }
    }

    /** Encodes {@code path} as this platform's locator data. */
    static byte[] encode(int code, String path) {
        return switch (code) {
            case W2KU, W2RU -> path.getBytes(StandardCharsets.UTF_16LE);
            case MACX -> ("file://" + path).getBytes(StandardCharsets.UTF_8);
            default -> throw new IllegalArgumentException("unknown locator code " + code);
        };
    }

    /**
     * Decodes locator data into a path usable on this host: backslashes become slashes, a
     * {@code .\} prefix goes, a {@code file://} URL loses its scheme. Null for a path only
     * another host could use (a drive letter).
     */
    static String decode(int code, byte[] data) {
        String s;
        switch (code) {
            case W2KU, W2RU -> s = new String(data, StandardCharsets.UTF_16LE);
            case MACX -> {
                s = new String(data, StandardCharsets.UTF_8);
                if (s.startsWith("file://")) {
                    try {
                        s = URI.create(s.replace(" ", "%20")).getPath();
                    } catch (IllegalArgumentException e) {
                        s = s.substring("file://".length());
                    }
                    if (s == null) {
                        return null;
                    }
                }
            }
            default -> {
                return null;
            }
        }
        int nul = s.indexOf('\0');
        if (nul >= 0) {
            s = s.substring(0, nul);
        }
        s = s.replace('\\', '/');
        if (s.length() >= 2 && s.charAt(1) == ':') {
            return null;
        }
        if (s.startsWith("./")) {
            s = s.substring(2);
        }
        return s.isEmpty() ? null : s;
    }
}
