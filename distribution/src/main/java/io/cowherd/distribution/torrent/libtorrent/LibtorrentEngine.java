package io.cowherd.distribution.torrent.libtorrent;

import io.cowherd.CowIOException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.distribution.torrent.EngineFeature;
import io.cowherd.distribution.torrent.MagnetLink;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentEngines;
import io.cowherd.distribution.torrent.TorrentSession;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link TorrentEngine} on libtorrent (Arvid Norberg's C++ library, 2.0, through
 * {@code org.libtorrent4j}'s JNI binding): twice the others' rate for one pair, as fast as ttorrent
 * in a swarm of hosts (see the README's benchmarks), with magnet
 * links, the mainline DHT (only with the bootstrap nodes given here, never the public routers),
 * HTTP web seeds as the origin fallback, session-wide rate limits, streaming (piece deadlines put
 * what a reader waits for first) and block-level bans of peers that send bad data (its smart-ban
 * plugin). Local service discovery, UPnP, NAT-PMP and uTP are
 * off: peers speak TCP on the bind address only.
 *
 * <p>As the other engines do, a seed trusts its data (libtorrent's seed mode: each piece is
 * hashed the first time a peer asks for it, and a piece that fails sends the seed back to a full
 * check instead of serving bad data), a fetch into a new target hashes nothing, an interrupted
 * fetch's {@code NAME.part} files are checked and their good pieces kept, and the files get their
 * final names only once every piece is verified.
 *
 * <p>Its libraries ({@code org.libtorrent4j:libtorrent4j} and {@code libtorrent4j-linux}) are
 * optional dependencies of cowherd-distribution; {@link LibtorrentEngineProvider} reports them missing.
 */
public final class LibtorrentEngine implements TorrentEngine {
    private static final Logger LOG = LoggerFactory.getLogger(LibtorrentEngine.class);
    private static final Set<EngineFeature> FEATURES = EnumSet.complementOf(EnumSet.of(EngineFeature.PEER_RATE_LIMITS));

    @Override
    public String name() {
        return "libtorrent";
    }

    /** Magnet links, the DHT, HTTP origins, session-wide rate limits, streaming; no per-connection limits (libtorrent has none). */
    @Override
    public Set<EngineFeature> features() {
        return FEATURES;
    }

    @Override
    public TorrentSession seed(Metainfo metainfo, Path parent, SessionOptions options) {
        TorrentEngines.requireFeatures(this, options, false);
        metainfo.requireDataIn(parent);
        return LibtorrentSession.start(metainfo, null, parent, options, true);
    }

    @Override
    public TorrentSession fetch(Metainfo metainfo, Path parent, SessionOptions options) {
        TorrentEngines.requireFeatures(this, options, true);
        if (metainfo.trackers().isEmpty() && options.dhtBootstrapNodes() == null && options.origins().isEmpty()) {
            throw new UnsupportedFeatureException("torrent " + metainfo.name() + " names no tracker and the session runs "
                    + "without DHT; name a tracker when the torrent is made (Metainfo.create trackers) or turn the DHT on (SessionOptions.withDht)");
        }
        prepare(parent);
        LOG.info("fetching {} ({} bytes, {} pieces) into {} with {}", metainfo.name(), metainfo.totalSize(),
                metainfo.pieceCount(), parent, name());
        return LibtorrentSession.start(metainfo, null, parent, options, false);
    }

    @Override
    public TorrentSession fetch(MagnetLink magnet, Path parent, SessionOptions options) {
        Objects.requireNonNull(magnet, "magnet");
        TorrentEngines.requireFeatures(this, options, true);
        if (magnet.trackers().isEmpty() && options.dhtBootstrapNodes() == null) {
            throw new UnsupportedFeatureException("magnet link " + magnet.infoHashHex() + " names no tracker and the "
                    + "session runs without DHT; turn the DHT on (SessionOptions.withDht)");
        }
        prepare(parent);
        LOG.info("fetching magnet {} into {} with {}", magnet.infoHashHex(), parent, name());
        return LibtorrentSession.start(null, magnet, parent, options, false);
    }

    private static void prepare(Path parent) {
        try {
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw CowIOException.wrap(parent, "creating", e);
        }
    }
}
