package io.cowherd;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * Rules for opening images that may come from an untrusted source, after Commons Compress's
 * extraction policy: which formats may be opened, whether a format may be guessed from content,
 * where backing files may live, and how large things may get. The defaults are the strict ones.
 *
 * @param allowedFormats formats that may be opened (lower case)
 * @param allowProbing whether a backing file whose format is not recorded may have its format
 *     guessed from its content (never for a format that is known: CVE-2008-2004)
 * @param backingRoot backing files must resolve inside this directory; null allows any path
 * @param maxVirtualSize largest virtual size accepted, in bytes
 * @param maxChainDepth longest backing chain accepted
 * @param maxMetadataBytes largest single metadata table read into memory
 * @param streamSockets the one directory whose NBD sockets may back an image (a streaming
 *     master's exports, {@code nbd+unix:///EXPORT?socket=DIR/NAME.sock}); null refuses every
 *     protocol backing. {@code json:} and every other protocol are refused whatever this says.
 */
public record ImagePolicy(Set<String> allowedFormats, boolean allowProbing, Path backingRoot, long maxVirtualSize,
        int maxChainDepth, long maxMetadataBytes, Path streamSockets) {

    /** 64 TiB: far above any disk we expect, far below overflow trouble. */
    public static final long DEFAULT_MAX_VIRTUAL_SIZE = 64L << 40;
    /** Deep enough for any sane chain; stops loops and crafted chains from exhausting memory. */
    public static final int DEFAULT_MAX_CHAIN_DEPTH = 64;
    /** QEMU's own limit for an L1 table, the largest table a qcow2 reader loads whole. */
    public static final long DEFAULT_MAX_METADATA_BYTES = 32L << 20;

    public ImagePolicy {
        allowedFormats = Set.copyOf(allowedFormats);
        backingRoot = backingRoot == null ? null : backingRoot.toAbsolutePath().normalize();
        streamSockets = streamSockets == null ? null : streamSockets.toAbsolutePath().normalize();
    }

    /** As the canonical constructor, with no stream sockets allowed. */
    public ImagePolicy(Set<String> allowedFormats, boolean allowProbing, Path backingRoot, long maxVirtualSize,
            int maxChainDepth, long maxMetadataBytes) {
        this(allowedFormats, allowProbing, backingRoot, maxVirtualSize, maxChainDepth, maxMetadataBytes, null);
    }

    /** The strict policy for images inside a pool: backing files must stay inside {@code root}. */
    public static ImagePolicy confinedTo(Path root) {
        return new ImagePolicy(Set.of("qcow2", "raw", "vhd"), false, root, DEFAULT_MAX_VIRTUAL_SIZE,
                DEFAULT_MAX_CHAIN_DEPTH, DEFAULT_MAX_METADATA_BYTES);
    }

    /**
     * The policy for an operator's own files on the command line: backing files may be anywhere,
     * formats are still never guessed.
     */
    public static ImagePolicy operator() {
        return confinedTo(null);
    }

    /** This policy with backing files allowed anywhere. */
    public ImagePolicy allowingAnyBacking() {
        return new ImagePolicy(allowedFormats, allowProbing, null, maxVirtualSize, maxChainDepth, maxMetadataBytes,
                streamSockets);
    }

    /** This policy with format probing for backing files that do not record their format. */
    public ImagePolicy allowingProbing() {
        return new ImagePolicy(allowedFormats, true, backingRoot, maxVirtualSize, maxChainDepth, maxMetadataBytes,
                streamSockets);
    }

    /**
     * This policy with the NBD sockets directly inside {@code directory} allowed as backing: a
     * pool's own stream exports ({@link Pool#addStreamingMaster}).
     */
    public ImagePolicy allowingStreamsFrom(Path directory) {
        return new ImagePolicy(allowedFormats, allowProbing, backingRoot, maxVirtualSize, maxChainDepth, maxMetadataBytes,
                directory);
    }

    /** Throws unless an image may back onto an NBD export served on {@code socket}. */
    public void checkStreamSocket(Path image, String reference, Path socket) {
        Path normal = socket.toAbsolutePath().normalize();
        if (streamSockets == null || !streamSockets.equals(normal.getParent())) {
            throw new UnsafeBackingException(image + ": backing reference '" + reference + "' is an NBD export "
                    + (streamSockets == null ? "and this image policy allows none"
                            : "whose socket is not one of " + streamSockets + "/*")
                    + "; only a pool's own stream exports are followed");
        }
    }

    /** Throws unless {@code format} may be opened. */
    public void checkFormat(Path file, String format) {
        if (!allowedFormats.contains(format.toLowerCase(Locale.ROOT))) {
            throw new PolicyViolationException(file + ": format '" + format + "' is not allowed by the image policy "
                    + "(allowed: " + allowedFormats + ")");
        }
    }

    /** Throws unless {@code size} is an acceptable virtual size. */
    public void checkVirtualSize(Path file, long size) {
        if (size < 0 || size > maxVirtualSize) {
            throw new PolicyViolationException(file + ": virtual size " + size + " exceeds the image policy's limit of "
                    + maxVirtualSize + " bytes");
        }
    }

    /** Throws unless {@code backing} (already resolved) lies where the policy allows. */
    public void checkBackingLocation(Path image, Path backing) {
        if (backingRoot == null) {
            return;
        }
        Path normal = backing.toAbsolutePath().normalize();
        if (!normal.startsWith(backingRoot)) {
            throw new UnsafeBackingException(image + ": backing file " + backing + " resolves outside " + backingRoot
                    + "; refusing to follow it (allow it explicitly if this image is trusted)");
        }
    }
}
