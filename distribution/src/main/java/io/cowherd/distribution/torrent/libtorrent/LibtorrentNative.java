package io.cowherd.distribution.torrent.libtorrent;

import io.cowherd.UnsupportedFeatureException;
import java.io.IOException;
import java.io.InputStream;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.zip.CRC32;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes libtorrent4j's JNI library loadable. libtorrent4j loads it from the file named by the
 * system property {@value #PATH_PROPERTY}, else from {@code java.library.path}; the library itself
 * ships inside the {@code libtorrent4j-linux} jar as {@value #RESOURCE} (14 MiB), so it has to be
 * copied out of the class path into a file.
 *
 * <p>The copy is kept in a per-user cache directory (system property {@value #CACHE_PROPERTY}, else
 * {@code $XDG_CACHE_HOME/cowherd}, else {@code ~/.cache/cowherd}; mode 0700, owned by the user),
 * named by the jar entry's size and CRC-32 and checked against that CRC before each use: inflating
 * it on every start cost about a tenth of a CPU-second, which counts when eight hosts start on two
 * cores. Where no such directory can be used, the library goes to a private temporary directory
 * deleted when the JVM exits, as before.
 */
final class LibtorrentNative {
    private static final Logger LOG = LoggerFactory.getLogger(LibtorrentNative.class);
    static final String PATH_PROPERTY = "libtorrent4j.jni.path";
    static final String CACHE_PROPERTY = "cowherd.cache.dir";
    static final String RESOURCE = "lib/x86_64/libtorrent4j.so";
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");
    private static boolean ready;

    private LibtorrentNative() {
    }

    /** Sets {@value #PATH_PROPERTY} unless the caller set it; fails clearly where there is no library. */
    static synchronized void ensureLoadable() {
        if (ready || !System.getProperty(PATH_PROPERTY, "").isEmpty()) {
            ready = true;
            return;
        }
        String arch = System.getProperty("os.arch");
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")
                || !("amd64".equals(arch) || "x86_64".equals(arch))) {
            throw new UnsupportedFeatureException("the libtorrent engine ships a native library for Linux x86-64 only, not "
                    + System.getProperty("os.name") + " " + arch + "; use the ttorrent engine");
        }
        URL url = LibtorrentNative.class.getClassLoader().getResource(RESOURCE);
        if (url == null) {
            throw new UnsupportedFeatureException("libtorrent4j's native library (" + RESOURCE + " from "
                    + "org.libtorrent4j:libtorrent4j-linux) is not on the class path; use the ttorrent engine");
        }
        Path so = null;
        try {
            so = cachedCopy(url, cacheDirectory());
        } catch (IOException | RuntimeException e) {
            LOG.debug("not caching libtorrent4j's native library: {}", e.toString());
        }
        if (so == null) {
            so = temporaryCopy(url);
        }
        System.setProperty(PATH_PROPERTY, so.toString());
        ready = true;
    }

    /** The cache directory to use, created if missing; null if it cannot be made private to this user. */
    static Path cacheDirectory() throws IOException {
        String configured = System.getProperty(CACHE_PROPERTY, "");
        Path dir;
        if (!configured.isEmpty()) {
            dir = Path.of(configured);
        } else {
            String xdg = System.getenv("XDG_CACHE_HOME");
            String home = System.getProperty("user.home", "");
            if (xdg != null && xdg.startsWith("/")) {
                dir = Path.of(xdg, "cowherd");
            } else if (home.startsWith("/")) {
                dir = Path.of(home, ".cache", "cowherd");
            } else {
                return null;
            }
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir.getParent());
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            } catch (java.nio.file.FileAlreadyExistsException raced) {
                // another JVM made it: checked below like any existing directory
            }
        }
        // a library loaded into this process must not be writable by anyone else
        PosixFileAttributes attributes = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        String me = System.getProperty("user.name", "");
        if (!attributes.isDirectory() || !attributes.owner().getName().equals(me)
                || attributes.permissions().contains(PosixFilePermission.GROUP_WRITE)
                || attributes.permissions().contains(PosixFilePermission.OTHERS_WRITE)) {
            LOG.debug("{} is not a directory of {} that only its owner can write", dir, me);
            return null;
        }
        return dir;
    }

    /**
     * The library in {@code dir} under a name made of its size and CRC-32 (from the jar entry),
     * extracted there first if missing or damaged; null if {@code dir} is null or the resource is
     * not in a jar.
     */
    static Path cachedCopy(URL url, Path dir) throws IOException {
        if (dir == null) {
            return null;
        }
        URLConnection connection = url.openConnection();
        if (!(connection instanceof JarURLConnection jar)) {
            return null;
        }
        connection.setUseCaches(false); // a cached JarFile would stay open for the JVM's lifetime
        JarEntry entry = jar.getJarEntry();
        long size = entry.getSize();
        long crc = entry.getCrc();
        if (size < 0 || crc < 0) {
            return null;
        }
        Path so = dir.resolve(String.format(Locale.ROOT, "libtorrent4j-%d-%08x.so", size, crc));
        if (Files.isRegularFile(so, LinkOption.NOFOLLOW_LINKS) && Files.size(so) == size && crcOf(so) == crc) {
            LOG.debug("libtorrent4j's native library from the cache: {}", so);
            return so;
        }
        Path part = Files.createTempFile(dir, "libtorrent4j-", ".part");
        try {
            try (InputStream in = jar.getInputStream()) {
                Files.copy(in, part, StandardCopyOption.REPLACE_EXISTING);
            }
            if (Files.size(part) != size || crcOf(part) != crc) {
                throw new IOException("the copy of " + RESOURCE + " does not match its jar entry's size and CRC");
            }
            try {
                Files.move(part, so, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(part, so, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(part);
        }
        LOG.debug("libtorrent4j's native library copied to the cache: {}", so);
        return so;
    }

    private static long crcOf(Path file) throws IOException {
        CRC32 crc = new CRC32();
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0;) {
                crc.update(buffer, 0, n);
            }
        }
        return crc.getValue();
    }

    private static Path temporaryCopy(URL url) {
        try (InputStream in = url.openStream()) {
            Path dir = Files.createTempDirectory("cowherd-libtorrent");
            Path so = dir.resolve("libtorrent4j.so");
            Files.copy(in, so, StandardCopyOption.REPLACE_EXISTING);
            so.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            LOG.debug("libtorrent4j's native library copied to {}", so);
            return so;
        } catch (IOException e) {
            throw new io.cowherd.CowIOException("cannot copy libtorrent4j's native library out of the class path: " + e, e);
        }
    }
}
