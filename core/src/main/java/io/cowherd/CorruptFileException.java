package io.cowherd;

import java.nio.file.Path;

/**
 * A file cowherd reads (an image's metadata, a torrent, a bundle manifest or archive, a pool's
 * record) is malformed, inconsistent or outside its format's limits. The message names the file,
 * the field at fault and its offset.
 */
public class CorruptFileException extends CowException {
    private static final long serialVersionUID = 1L;
    private final transient Path file;
    private final String field;
    private final long offset;

    /**
     * @param file the file
     * @param field the field or structure at fault (for example {@code "l1_table_offset"} or {@code "info"})
     * @param offset byte offset of that field in the file, or -1 when not meaningful
     * @param problem what is wrong with it
     */
    public CorruptFileException(Path file, String field, long offset, String problem) {
        this(file, field, offset, problem, "the file is damaged or not what it claims to be");
    }

    /** As above, with {@code advice} (what is wrong, and what to do) ending the message. */
    protected CorruptFileException(Path file, String field, long offset, String problem, String advice) {
        super(file + ": " + field + (offset >= 0 ? " at offset " + offset : "") + ": " + problem + "; " + advice);
        this.file = file;
        this.field = field;
        this.offset = offset;
    }

    /** The file. */
    public Path file() {
        return file;
    }

    /** The field at fault. */
    public String field() {
        return field;
    }

    /** Byte offset of the field, or -1. */
    public long offset() {
        return offset;
    }
}
