package io.cowherd.distribution.torrent.ttorrent;


import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentEngineProvider;
import java.util.List;

/** Finds the {@link TtorrentEngine} for {@link io.cowherd.distribution.torrent.TorrentEngines}. */
public final class TtorrentEngineProvider implements TorrentEngineProvider {

    @Override
    public String name() {
        return "ttorrent";
    }

    @Override
    public List<String> missingLibraries() {
        return TorrentEngineProvider.present("com.turn.ttorrent.client.Client", TtorrentEngineProvider.class.getClassLoader())
                ? List.of() : List.of("com.turn:ttorrent-core");
    }

    @Override
    public TorrentEngine create() {
        return new TtorrentEngine();
    }
}
