package io.cowherd;

import java.nio.file.Path;

/** A disk image's metadata is malformed, inconsistent or outside the limits the format allows. */
public class CorruptImageException extends CorruptFileException {
    private static final long serialVersionUID = 1L;

    /**
     * @param file the image file
     * @param field the on-disk field or structure at fault (for example {@code "l1_table_offset"})
     * @param offset byte offset of that field in the file, or -1 when not meaningful
     * @param problem what is wrong with it
     */
    public CorruptImageException(Path file, String field, long offset, String problem) {
        super(file, field, offset, problem,
                "the image is corrupt or not what it claims to be (run `qemu-img check` or restore it)");
    }
}
