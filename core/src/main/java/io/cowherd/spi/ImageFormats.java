package io.cowherd.spi;


import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.PolicyViolationException;
import io.cowherd.UnsafeBackingException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.VolumeInfo;
import io.cowherd.internal.io.RawFormat;
import io.cowherd.internal.nbd.NbdDisk;
import io.cowherd.internal.nbd.NbdUri;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeSet;

/** The image formats on the class path, and the one safe way to follow a backing reference. */
public final class ImageFormats {
    private static final int PROBE_BYTES = 512;

    /** How many bytes at a file's end {@link ImageFormat#hasTrailer} is shown. */
    public static final int TRAILER_BYTES = 512;

    private ImageFormats() {
    }

    /** Every format available, by name; {@code raw} is always there. */
    public static Map<String, ImageFormat> all() {
        Map<String, ImageFormat> byName = new LinkedHashMap<>();
        for (ImageFormat f : ServiceLoader.load(ImageFormat.class, ImageFormats.class.getClassLoader())) {
            byName.putIfAbsent(f.name(), f);
        }
        byName.putIfAbsent(RawFormat.NAME, new RawFormat());
        return byName;
    }

    /** The format called {@code name}. */
    public static ImageFormat byName(String name) {
        Map<String, ImageFormat> all = all();
        ImageFormat f = all.get(name);
        if (f == null) {
            throw new UnsupportedFeatureException("unknown image format '" + name + "'; known: "
                    + new TreeSet<>(all.keySet()));
        }
        return f;
    }

    /**
     * Guesses a file's format from its magic bytes; raw when nothing matches. Only for files an
     * operator names on the command line without a format, never for backing files unless the
     * policy allows it.
     */
    public static ImageFormat probe(Path file) {
        ByteBuffer head = ByteBuffer.allocate(PROBE_BYTES);
        ByteBuffer tail = ByteBuffer.allocate(TRAILER_BYTES);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (head.hasRemaining() && ch.read(head) > 0) {
                // fill what the file has
            }
            long size = ch.size();
            if (size >= TRAILER_BYTES) {
                while (tail.hasRemaining() && ch.read(tail, size - TRAILER_BYTES + tail.position()) > 0) {
                    // the last bytes: a footer
                }
            }
        } catch (IOException e) {
            throw CowIOException.wrap(file, "probing", e);
        }
        head.flip();
        tail.flip();
        for (ImageFormat f : all().values()) {
            if (!f.name().equals(RawFormat.NAME) && f.hasMagic(head.duplicate())) {
                return f;
            }
        }
        // Headers first: a footer-only format (fixed VHD) is found by its trailer, which qemu-img's probe misses.
        for (ImageFormat f : all().values()) {
            if (!f.name().equals(RawFormat.NAME) && tail.remaining() == TRAILER_BYTES && f.hasTrailer(tail.duplicate())) {
                return f;
            }
        }
        return byName(RawFormat.NAME);
    }


    /**
     * The NBD export {@code reference} names, if it is one the policy allows (a pool's own
     * stream socket, see {@link ImagePolicy#streamSockets}); empty for every other reference,
     * which {@link #resolveBacking} then judges. Streamed masters are read as raw: the export
     * serves a bundle's disk file, and cowherd reads only raw ones this way.
     */
    private static java.util.Optional<NbdUri> streamBacking(Path image, String reference, String recordedFormat,
            ImagePolicy policy, int depth) {
        java.util.Optional<NbdUri> uri = NbdUri.parse(reference);
        if (uri.isEmpty()) {
            return uri;
        }
        policy.checkStreamSocket(image, reference, uri.get().socket());
        if (depth + 1 >= policy.maxChainDepth()) {
            throw new UnsafeBackingException(image + ": backing chain deeper than " + policy.maxChainDepth()
                    + " images; refusing to follow '" + reference + "'");
        }
        if (!RawFormat.NAME.equals(recordedFormat)) {
            throw new UnsupportedFeatureException(image + ": backing export '" + reference + "' is recorded as format '"
                    + recordedFormat + "'; cowherd reads streamed masters as raw only");
        }
        return uri;
    }

    /**
     * Resolves and checks the backing reference {@code reference} recorded in {@code image}:
     * protocol and {@code json:} names are refused, relative names resolve against the image's
     * directory, the result must exist, lie where the policy allows and the chain must not be
     * too deep.
     */
    public static Path resolveBacking(Path image, String reference, ImagePolicy policy, int depth) {
        if (reference.startsWith("json:") || reference.matches("^[A-Za-z][A-Za-z0-9+.-]*:.*")) {
            throw new UnsafeBackingException(image + ": backing reference '" + reference
                    + "' is a protocol or json: name; only plain file paths (and a pool's own stream exports) are followed");
        }
        if (depth + 1 >= policy.maxChainDepth()) {
            throw new UnsafeBackingException(image + ": backing chain deeper than " + policy.maxChainDepth()
                    + " images (or a loop); refusing to follow '" + reference + "'");
        }
        Path dir = image.toAbsolutePath().getParent();
        Path backing = dir.resolve(reference).normalize();
        policy.checkBackingLocation(image, backing);
        if (!Files.exists(backing)) {
            throw new io.cowherd.NoSuchVolumeException(image + ": backing file '" + reference + "' (" + backing
                    + ") does not exist");
        }
        return backing;
    }

    /**
     * The backing reference recorded in {@code image} as a full name: the export's URI for a stream
     * the policy allows, else the resolved path ({@link #resolveBacking}).
     */
    public static String backingName(Path image, String reference, ImagePolicy policy, int depth) {
        if (NbdUri.parse(reference).isPresent()) {
            return streamBacking(image, reference, RawFormat.NAME, policy, depth).orElseThrow().toString();
        }
        return resolveBacking(image, reference, policy, depth).toString();
    }

    /** The format to open a backing file in: the recorded one, or a probe if the policy allows. */
    public static ImageFormat backingFormat(Path image, Path backing, String recordedFormat, ImagePolicy policy) {
        ImageFormat format;
        if (recordedFormat == null || recordedFormat.isEmpty()) {
            if (!policy.allowProbing()) {
                throw new UnsafeBackingException(image + ": backing file " + backing
                        + " has no recorded format and probing is not allowed (CVE-2008-2004); "
                        + "record it with `qemu-img rebase -u -F FMT -b BACKING`");
            }
            format = probe(backing);
        } else {
            format = byName(recordedFormat);
        }
        policy.checkFormat(backing, format.name());
        return format;
    }

    /** Opens the backing image recorded in {@code image}, checked as {@link #resolveBacking} says. */
    public static VirtualDisk openBacking(Path image, String reference, String recordedFormat, ImagePolicy policy,
            int depth) {
        java.util.Optional<NbdUri> stream = streamBacking(image, reference, recordedFormat, policy, depth);
        if (stream.isPresent()) {
            return NbdDisk.open(stream.get());
        }
        Path backing = resolveBacking(image, reference, policy, depth);
        return backingFormat(image, backing, recordedFormat, policy).open(backing, policy, false, depth + 1);
    }

    /** Reads the metadata of the backing image recorded in {@code image}. */
    public static VolumeInfo infoBacking(Path image, String reference, String recordedFormat, ImagePolicy policy,
            int depth) {
        java.util.Optional<NbdUri> stream = streamBacking(image, reference, recordedFormat, policy, depth);
        if (stream.isPresent()) {
            try (NbdDisk export = NbdDisk.open(stream.get())) {
                checkSize(image, export.size(), policy);
                return new VolumeInfo(reference, RawFormat.NAME, export.size(), 0, 0, null, null, null, null);
            }
        }
        Path backing = resolveBacking(image, reference, policy, depth);
        return backingFormat(image, backing, recordedFormat, policy).info(backing, policy, depth + 1);
    }

    /** Throws when an image's virtual size breaks the policy. */
    public static void checkSize(Path file, long size, ImagePolicy policy) {
        if (size < 0) {
            throw new PolicyViolationException(file + ": negative virtual size " + size);
        }
        policy.checkVirtualSize(file, size);
    }
}
