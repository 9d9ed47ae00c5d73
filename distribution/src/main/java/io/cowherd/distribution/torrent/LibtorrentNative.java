package io.cowherd.distribution.torrent;

import io.cowherd.UnsupportedFeatureException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes libtorrent4j's JNI library loadable. libtorrent4j loads it from the file named by the
 * system property {@value #PATH_PROPERTY}, else from {@code java.library.path}; the library itself
 * ships inside the {@code libtorrent4j-linux} jar as {@value #RESOURCE}, so it is copied out of
 * the class path once per JVM into a private temporary directory (deleted when the JVM exits).
 */
final class LibtorrentNative {
    private static final Logger LOG = LoggerFactory.getLogger(LibtorrentNative.class);
    static final String PATH_PROPERTY = "libtorrent4j.jni.path";
    static final String RESOURCE = "lib/x86_64/libtorrent4j.so";
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
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")
                || !("amd64".equals(arch) || "x86_64".equals(arch))) {
            throw new UnsupportedFeatureException("the libtorrent engine ships a native library for Linux x86-64 only, not "
                    + System.getProperty("os.name") + " " + arch + "; use --engine ttorrent");
        }
        try (InputStream in = LibtorrentNative.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new UnsupportedFeatureException("libtorrent4j's native library (" + RESOURCE + " from "
                        + "org.libtorrent4j:libtorrent4j-linux) is not on the class path; use --engine ttorrent");
            }
            Path dir = Files.createTempDirectory("cowherd-libtorrent");
            Path so = dir.resolve("libtorrent4j.so");
            Files.copy(in, so, StandardCopyOption.REPLACE_EXISTING);
            so.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            System.setProperty(PATH_PROPERTY, so.toString());
            LOG.debug("libtorrent4j's native library copied to {}", so);
            ready = true;
        } catch (IOException e) {
            throw new io.cowherd.CowIOException("cannot copy libtorrent4j's native library out of the class path: " + e, e);
        }
    }
}
