package io.cowherd.distribution.bundle;

import io.cowherd.CorruptFileException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The manifest of a bundle: one line per file, tab separated, in a plain text file that a shell
 * can read ({@code cut -f}). The first line names the format and its version:
 *
 * <pre>
 * cowherd-bundle	1
 * name	role	size	sha256	format	virtual-size
 * disk.qcow2	disk	196608	9f86...	qcow2	1073741824
 * domain.xml	domain-xml	1375	2c26...	-	-
 * </pre>
 *
 * @param files the bundle's files, disks first in the order they were given
 */
public record BundleManifest(List<BundleFile> files) {
    /** The manifest's file name inside a bundle directory. */
    public static final String FILE_NAME = "cowherd-bundle.manifest";
    /** Largest manifest accepted from untrusted input. */
    public static final int MAX_BYTES = 1 << 20;
    private static final String MAGIC = "cowherd-bundle";
    private static final String HEADER = "name\trole\tsize\tsha256\tformat\tvirtual-size";

    /** Checks there is at least one disk and names are unique. */
    public BundleManifest {
        files = List.copyOf(files);
        if (files.stream().noneMatch(f -> f.role() == FileRole.DISK)) {
            throw new IllegalArgumentException("a bundle needs at least one disk image");
        }
        Set<String> seen = new HashSet<>();
        for (BundleFile f : files) {
            if (!seen.add(f.name())) {
                throw new IllegalArgumentException("two bundle files are called " + f.name());
            }
        }
    }

    /** The disk images, in order. */
    public List<BundleFile> disks() {
        return files.stream().filter(f -> f.role() == FileRole.DISK).toList();
    }

    /** The boot profile ({@link FileRole#BOOT_PROFILE}), if the bundle carries one. */
    public Optional<BundleFile> bootProfile() {
        return files.stream().filter(f -> f.role() == FileRole.BOOT_PROFILE).findFirst();
    }

    /** The file called {@code name}, if any. */
    public Optional<BundleFile> file(String name) {
        return files.stream().filter(f -> f.name().equals(name)).findFirst();
    }

    /** Sum of the files' sizes. */
    public long totalSize() {
        return files.stream().mapToLong(BundleFile::size).sum();
    }

    /** The manifest as its file's bytes. */
    public byte[] toBytes() {
        StringBuilder b = new StringBuilder();
        b.append(MAGIC).append("\t1\n").append(HEADER).append('\n');
        for (BundleFile f : files) {
            b.append(f.name()).append('\t').append(f.role().label()).append('\t').append(f.size()).append('\t')
                    .append(f.sha256()).append('\t').append(f.format() == null ? "-" : f.format()).append('\t')
                    .append(f.virtualSize() < 0 ? "-" : Long.toString(f.virtualSize())).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Parses a manifest read from {@code in} (at most {@link #MAX_BYTES}).
     *
     * @param where the file or archive it came from, for messages
     * @throws CorruptFileException if it is not a valid manifest
     */
    public static BundleManifest read(InputStream in, Path where) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
            if (out.size() > MAX_BYTES) {
                throw new CorruptFileException(where, FILE_NAME, -1, "manifest larger than " + MAX_BYTES + " bytes");
            }
        }
        return parse(out.toByteArray(), where);
    }

    /** Parses a manifest's bytes. @throws CorruptFileException if they are not a valid manifest */
    public static BundleManifest parse(byte[] bytes, Path where) {
        String text = new String(bytes, StandardCharsets.UTF_8);
        String[] lines = text.split("\n", -1);
        if (lines.length < 2 || !lines[0].equals(MAGIC + "\t1")) {
            throw new CorruptFileException(where, FILE_NAME, 0, "does not start with '" + MAGIC + "<TAB>1'");
        }
        if (!lines[1].equals(HEADER)) {
            throw new CorruptFileException(where, FILE_NAME, -1, "second line is not the column header");
        }
        List<BundleFile> files = new ArrayList<>();
        for (int i = 2; i < lines.length; i++) {
            if (lines[i].isEmpty()) {
                continue;
            }
            String[] c = lines[i].split("\t", -1);
            if (c.length != 6) {
                throw new CorruptFileException(where, FILE_NAME + " line " + (i + 1), -1, "expected 6 columns, got " + c.length);
            }
            try {
                files.add(new BundleFile(c[0], FileRole.ofLabel(c[1]), Long.parseLong(c[2]), c[3],
                        c[4].equals("-") ? null : c[4], c[5].equals("-") ? -1 : Long.parseLong(c[5])));
            } catch (IllegalArgumentException e) {
                throw new CorruptFileException(where, FILE_NAME + " line " + (i + 1), -1, e.getMessage());
            }
        }
        try {
            return new BundleManifest(files);
        } catch (IllegalArgumentException e) {
            throw new CorruptFileException(where, FILE_NAME, -1, e.getMessage());
        }
    }
}
