package io.cowherd.distribution.torrent;

import java.util.List;

/**
 * How {@link TorrentEngines} finds an engine: a {@link java.util.ServiceLoader} service, one per
 * engine package, listed in {@code META-INF/services}. A provider names its engine and the
 * libraries it needs without loading them, so that an engine whose optional Maven dependency is
 * missing is reported as such instead of failing with a {@link NoClassDefFoundError}.
 */
public interface TorrentEngineProvider {

    /** The engine's name, as {@code cowherd --engine} takes it: {@code libtorrent}, {@code ttorrent}. */
    String name();

    /** The Maven coordinates ({@code group:artifact}) of the engine's libraries that are not on the class path. */
    List<String> missingLibraries();

    /** A new engine; only called when {@link #missingLibraries()} is empty. */
    TorrentEngine create();

    /** Whether a class can be loaded, without initializing it: for {@link #missingLibraries()}. */
    static boolean present(String className, ClassLoader loader) {
        try {
            Class.forName(className, false, loader);
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }
}
