package io.cowherd;

import java.nio.file.Path;

/** An image's metadata is malformed, inconsistent or outside the limits the format allows. */
public class CorruptImageException extends CowException {
    private static final long serialVersionUID = 1L;
    private final transient Path file;
    private final String field;
    private final long offset;

    /**
     * @param file the image file
     * @param field the on-disk field or structure at fault (for example {@code "l1_table_offset"})
     * @param offset byte offset of that field in the file, or -1 when not meaningful
     * @param problem what is wrong with it
     */
    public CorruptImageException(Path file, String field, long offset, String problem) {
        super(file + ": " + field + (offset >= 0 ? " at offset " + offset : "") + ": " + problem
                + "; the image is corrupt or not what it claims to be (run `qemu-img check` or restore it)");
        this.file = file;
        this.field = field;
        this.offset = offset;
    }

    /** The image file. */
    public Path file() {
        return file;
    }

    /** The on-disk field at fault. */
    public String field() {
        return field;
    }

    /** Byte offset of the field, or -1. */
    public long offset() {
        return offset;
    }
}
