package io.cowherd.distribution.torrent;

import io.cowherd.CowIOException;
import io.cowherd.UnsupportedFeatureException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link TorrentEngine} on libtorrent (Arvid Norberg's C++ library, 2.0, through
 * {@code org.libtorrent4j}'s JNI binding): twice the others' rate for one pair, as fast as ttorrent
 * in a swarm of hosts (see the README's benchmarks), with magnet
 * links, the mainline DHT (only with the bootstrap nodes given here, never the public routers),
 * HTTP web seeds as the origin fallback, session-wide rate limits and block-level bans of peers
 * that send bad data (its smart-ban plugin). Local service discovery, UPnP, NAT-PMP and uTP are
 * off: peers speak TCP on the bind address only.
 *
 * <p>As the other engines do, a seed trusts its data (libtorrent's seed mode: each piece is
 * hashed the first time a peer asks for it, and a piece that fails sends the seed back to a full
 * check instead of serving bad data), a fetch into a new target hashes nothing, an interrupted
 * fetch's {@code NAME.part} files are checked and their good pieces kept, and the files get their
 * final names only once every piece is verified.
 *
 * <p>The tracker is the {@link EmbeddedTracker}, as for every engine.
 */
public final class LibtorrentEngine implements TorrentEngine {
    private static final Logger LOG = LoggerFactory.getLogger(LibtorrentEngine.class);
    /** The first port a session tries (TCP for peers, UDP for the DHT); the next ones follow when taken. */
    public static final int FIRST_PORT = 6881;

    private final List<InetSocketAddress> dhtBootstrapNodes;

    /** An engine without DHT: peers come from trackers, magnet links' trackers and peer exchange. */
    public LibtorrentEngine() {
        this(null);
    }

    /**
     * @param dhtBootstrapNodes DHT nodes to join through (another session's {@link TorrentSession#listenAddress()}
     *     is one: the DHT listens on the same address and port over UDP), empty for a first node that
     *     others join; null for no DHT
     */
    public LibtorrentEngine(List<InetSocketAddress> dhtBootstrapNodes) {
        this.dhtBootstrapNodes = dhtBootstrapNodes == null ? null : List.copyOf(dhtBootstrapNodes);
    }

    @Override
    public String name() {
        return "libtorrent-2.0";
    }

    /** The DHT bootstrap nodes, or null when the DHT is off. */
    public List<InetSocketAddress> dhtBootstrapNodes() {
        return dhtBootstrapNodes;
    }

    @Override
    public boolean trackerless() {
        return dhtBootstrapNodes != null;
    }

    @Override
    public TorrentSession seed(Metainfo metainfo, Path parent, SessionOptions options) {
        metainfo.requireDataIn(parent);
        return LibtorrentSession.start(this, metainfo, null, parent, options, true);
    }

    @Override
    public TorrentSession fetch(Metainfo metainfo, Path parent, SessionOptions options) {
        if (metainfo.trackers().isEmpty() && dhtBootstrapNodes == null && options.origins().isEmpty()) {
            throw new UnsupportedFeatureException("torrent " + metainfo.name() + " names no tracker and this engine runs "
                    + "without DHT; add a tracker (`cowherd seed --tracker`) or turn the DHT on (--dht)");
        }
        prepare(parent);
        LOG.info("fetching {} ({} bytes, {} pieces) into {} with {}", metainfo.name(), metainfo.totalSize(),
                metainfo.pieceCount(), parent, name());
        return LibtorrentSession.start(this, metainfo, null, parent, options, false);
    }

    @Override
    public TorrentSession fetch(MagnetLink magnet, Path parent, SessionOptions options) {
        Objects.requireNonNull(magnet, "magnet");
        if (magnet.trackers().isEmpty() && dhtBootstrapNodes == null) {
            throw new UnsupportedFeatureException("magnet link " + magnet.infoHashHex() + " names no tracker and this "
                    + "engine runs without DHT; turn the DHT on (--dht-bootstrap HOST:PORT)");
        }
        prepare(parent);
        LOG.info("fetching magnet {} into {} with {}", magnet.infoHashHex(), parent, name());
        return LibtorrentSession.start(this, null, magnet, parent, options, false);
    }

    private static void prepare(Path parent) {
        try {
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw CowIOException.wrap(parent, "creating", e);
        }
    }

    /** The {@link EmbeddedTracker}, the same for every engine. */
    @Override
    public TrackerHandle startTracker(InetSocketAddress address) {
        return EmbeddedTracker.start(address);
    }
}
