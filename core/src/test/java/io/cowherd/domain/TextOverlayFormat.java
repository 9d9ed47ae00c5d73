package io.cowherd.domain;

import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeInfo;
import io.cowherd.internal.io.FileDisk;
import io.cowherd.internal.io.HostFiles;
import io.cowherd.internal.io.RawFormat;
import io.cowherd.spi.ImageFormats;
import io.cowherd.spi.OverlayFormat;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * TEST ONLY: a toy overlay format that exists just to exercise {@link DomainCloner} without a
 * real backend. A standalone image is a raw file; an "overlay" is a small text file that records
 * its backing file (relative), the backing format and the size. Overlays can be read (they show
 * the backing image) but not written.
 *
 * <p>It reports whatever {@code name} it is given, so that libvirt, which checks
 * {@code <driver type>} against the formats it knows, accepts the clones' XML (the tests use
 * {@code qcow2}); the files are of course not qcow2.
 */
final class TextOverlayFormat implements OverlayFormat {
    static final String MAGIC = "COWHERD-TEST-TEXT-OVERLAY\n";

    private final String name;

    TextOverlayFormat(String name) {
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean hasMagic(ByteBuffer head) {
        byte[] magic = MAGIC.getBytes(StandardCharsets.US_ASCII);
        if (head.remaining() < magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if (head.get(head.position() + i) != magic[i]) {
                return false;
            }
        }
        return true;
    }

    /** The overlay's fields, or null when {@code file} is a standalone (raw) image. */
    static Map<String, String> overlayFields(Path file) throws IOException {
        byte[] head = new byte[MAGIC.length()];
        try (var in = Files.newInputStream(file)) {
            if (in.readNBytes(head, 0, head.length) < head.length
                    || !MAGIC.equals(new String(head, StandardCharsets.US_ASCII))) {
                return null;
            }
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                fields.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return fields;
    }

    @Override
    public VolumeInfo info(Path file, ImagePolicy policy, int depth) {
        try {
            Map<String, String> f = overlayFields(file);
            if (f == null) {
                return new VolumeInfo(file.toString(), name, Files.size(file), HostFiles.allocatedBytes(file), 0,
                        null, null, null, null);
            }
            String ref = f.get("backing");
            String fmt = f.get("backing-format");
            Path backing = ImageFormats.resolveBacking(file, ref, policy, depth);
            VolumeInfo below = name.equals(fmt) ? info(backing, policy, depth + 1)
                    : ImageFormats.infoBacking(file, ref, fmt, policy, depth);
            return new VolumeInfo(file.toString(), name, Long.parseLong(f.get("size")), Files.size(file), 0, ref, fmt,
                    backing.toString(), below);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading", e);
        }
    }

    @Override
    public VirtualDisk open(Path file, ImagePolicy policy, boolean writable, int depth) {
        try {
            Map<String, String> f = overlayFields(file);
            if (f == null) {
                return new FileDisk(file, writable);
            }
            if (writable) {
                throw new UnsupportedFeatureException(file + ": the test text overlay format cannot be written");
            }
            String fmt = f.get("backing-format");
            Path backing = ImageFormats.resolveBacking(file, f.get("backing"), policy, depth);
            return name.equals(fmt) ? open(backing, policy, false, depth + 1)
                    : ImageFormats.openBacking(file, f.get("backing"), fmt, policy, depth);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "opening", e);
        }
    }

    @Override
    public void create(Path file, long virtualSize) {
        new RawFormat().create(file, virtualSize);
    }

    @Override
    public void createOverlay(Path overlay, Path backing, String backingFormat, long virtualSize) {
        Path dir = overlay.toAbsolutePath().getParent();
        String ref = dir.relativize(backing.toAbsolutePath()).toString();
        String text = MAGIC + "backing=" + ref + "\nbacking-format=" + backingFormat + "\nsize=" + virtualSize + "\n";
        try {
            Files.writeString(overlay, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE);
        } catch (FileAlreadyExistsException e) {
            throw new VolumeExistsException(overlay + " already exists; not overwriting it");
        } catch (IOException e) {
            throw CowIOException.wrap(overlay, "creating", e);
        }
    }

    /** Makes a raw image of {@code size} bytes holding {@code content} at its start (test helper). */
    static void writeRaw(Path file, byte[] content, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
            f.write(content);
        }
    }
}
