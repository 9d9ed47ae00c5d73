package io.cowherd.distribution.torrent.libtorrent;


import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentEngineProvider;
import java.util.ArrayList;
import java.util.List;

/** Finds the {@link LibtorrentEngine} for {@link io.cowherd.distribution.torrent.TorrentEngines}. */
public final class LibtorrentEngineProvider implements TorrentEngineProvider {

    @Override
    public String name() {
        return "libtorrent";
    }

    @Override
    public List<String> missingLibraries() {
        ClassLoader loader = LibtorrentEngineProvider.class.getClassLoader();
        List<String> missing = new ArrayList<>();
        if (!TorrentEngineProvider.present("org.libtorrent4j.SessionManager", loader)) {
            missing.add("org.libtorrent4j:libtorrent4j");
        }
        // the native library's jar (the .so that LibtorrentNative unpacks), unless the program points at its own copy
        if (System.getProperty(LibtorrentNative.PATH_PROPERTY, "").isEmpty() && loader.getResource(LibtorrentNative.RESOURCE) == null) {
            missing.add("org.libtorrent4j:libtorrent4j-linux");
        }
        return missing;
    }

    @Override
    public TorrentEngine create() {
        return new LibtorrentEngine();
    }
}
