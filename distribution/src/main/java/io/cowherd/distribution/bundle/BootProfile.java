package io.cowherd.distribution.bundle;

import io.cowherd.CorruptFileException;
import io.cowherd.CowIOException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The reads a domain made while it booted, in the order it made them: each names a disk of the
 * bundle (its file name, as its NBD export is named), an offset and a length. A streaming fetch
 * records one ({@code cowherd fetch --serve --record-profile}); a bundle carries it as the file
 * {@value #FILE_NAME} ({@link FileRole#BOOT_PROFILE}); every streamed fetch of that bundle then asks
 * for the pieces under those reads first, in that order (VMTorrent's profile-based prefetch).
 *
 * <p>On disk, UTF-8 text: the line {@code cowherd-boot-profile<TAB>1}, then one line per read:
 * {@code DISK<TAB>OFFSET<TAB>LENGTH}.
 *
 * @param reads the reads, in order
 */
public record BootProfile(List<Read> reads) {
    /** The file's name in a bundle. */
    public static final String FILE_NAME = "boot-profile";
    /** Most reads a profile may hold (a boot of a few hundred MiB in 4 KiB reads, with room). */
    public static final int MAX_READS = 1 << 20;
    /** Largest profile file accepted. */
    public static final long MAX_BYTES = 64L << 20;
    private static final String MAGIC = "cowherd-boot-profile\t1";

    /**
     * One read.
     *
     * @param disk the disk's file name in the bundle
     * @param offset where the read starts in the disk image's file
     * @param length bytes read, at least 1
     */
    public record Read(String disk, long offset, long length) {
        /** Checks the fields. */
        public Read {
            if (disk.isEmpty() || disk.chars().anyMatch(c -> c == '\t' || c == '\n' || c == '\r')) {
                throw new IllegalArgumentException("disk name '" + disk + "' is empty or holds a tab or line break");
            }
            if (offset < 0 || length < 1 || offset > Long.MAX_VALUE - length) {
                throw new IllegalArgumentException("read of " + length + " bytes at " + offset + " of " + disk);
            }
        }
    }

    /** Copies the list. */
    public BootProfile {
        if (reads.size() > MAX_READS) {
            throw new IllegalArgumentException(reads.size() + " reads, over the " + MAX_READS + " a profile may hold");
        }
        reads = List.copyOf(reads);
    }

    /** The profile as its file holds it. */
    public byte[] toBytes() {
        StringBuilder b = new StringBuilder(MAGIC).append('\n');
        for (Read r : reads) {
            b.append(r.disk()).append('\t').append(r.offset()).append('\t').append(r.length()).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Writes the profile to {@code file} (replaced if it exists). */
    public void save(Path file) {
        try {
            Files.write(file, toBytes());
        } catch (IOException e) {
            throw CowIOException.wrap(file, "writing the boot profile", e);
        }
    }

    /** Reads a profile file. @throws CorruptFileException naming the line if it is not one */
    public static BootProfile read(Path file) {
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new CorruptFileException(file, FILE_NAME, -1, "larger than " + MAX_BYTES + " bytes");
            }
            return parse(Files.readAllBytes(file), file);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading the boot profile", e);
        }
    }

    /**
     * Parses a profile's bytes.
     *
     * @param where the file it came from, for messages
     * @throws CorruptFileException naming the line and what is wrong with it
     */
    public static BootProfile parse(byte[] bytes, Path where) {
        if (bytes.length > MAX_BYTES) {
            throw new CorruptFileException(where, FILE_NAME, -1, "larger than " + MAX_BYTES + " bytes");
        }
        String[] lines = new String(bytes, StandardCharsets.UTF_8).split("\n", -1);
        if (!lines[0].equals(MAGIC)) {
            throw new CorruptFileException(where, FILE_NAME, 0, "does not start with 'cowherd-boot-profile<TAB>1'");
        }
        List<Read> reads = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].isEmpty()) {
                continue;
            }
            if (reads.size() == MAX_READS) {
                throw new CorruptFileException(where, FILE_NAME + " line " + (i + 1), -1, "more than " + MAX_READS + " reads");
            }
            String[] c = lines[i].split("\t", -1);
            if (c.length != 3) {
                throw new CorruptFileException(where, FILE_NAME + " line " + (i + 1), -1, "expected 3 columns, got " + c.length);
            }
            try {
                reads.add(new Read(c[0], Long.parseLong(c[1]), Long.parseLong(c[2])));
            } catch (IllegalArgumentException e) {
                throw new CorruptFileException(where, FILE_NAME + " line " + (i + 1), -1, e.getMessage());
            }
        }
        return new BootProfile(reads);
    }
}
