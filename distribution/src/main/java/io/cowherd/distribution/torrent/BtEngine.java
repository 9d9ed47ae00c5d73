package io.cowherd.distribution.torrent;

import io.cowherd.CowIOException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link TorrentEngine} on bt 1.10 ({@code com.github.atomashpolskiy:bt-core}): HTTP and UDP
 * trackers, peer exchange, magnet links (metadata exchange, BEP 9) and, when configured, the
 * mainline DHT ({@code bt-dht}, BEP 5) for trackerless operation. Local service discovery
 * (multicast) is always off, and the DHT only ever contacts the bootstrap nodes given here: never
 * the public routers.
 *
 * <p>On top of bt: session-wide rate limits (bt has none), peers whose pieces fail their hash are
 * banned by address, a seed trusts its data instead of hashing all of it first, a fetch into a new
 * target hashes nothing, and a fetch writes {@code NAME.part} until every piece is verified, as
 * the ttorrent engine does. Each session is one bt runtime on its own port (the first free one
 * from {@value #FIRST_PORT} on the bind address; the DHT uses the same number over UDP).
 *
 * <p>The tracker is ttorrent's (bt has none): {@link #startTracker} is {@link TtorrentEngine}'s.
 */
public final class BtEngine implements TorrentEngine {
    private static final Logger LOG = LoggerFactory.getLogger(BtEngine.class);
    /** The first port a session tries (TCP for peers, UDP for the DHT). */
    public static final int FIRST_PORT = 6881;

    /**
     * DHT settings.
     *
     * @param bootstrapNodes DHT nodes to join through (another session's {@link TorrentSession#listenAddress()}
     *     is one: its DHT listens on the same address and port over UDP); empty for a first node
     *     that others join through
     */
    public record Dht(List<InetSocketAddress> bootstrapNodes) {
        /** Checks the fields. */
        public Dht {
            bootstrapNodes = List.copyOf(bootstrapNodes);
        }
    }

    private final Dht dht;

    /** An engine without DHT: peers come from trackers, magnet links' peers and peer exchange. */
    public BtEngine() {
        this(null);
    }

    /** @param dht DHT settings, or null for no DHT */
    public BtEngine(Dht dht) {
        this.dht = dht;
    }

    @Override
    public String name() {
        return "bt-1.10";
    }

    /** The DHT settings, or null when the DHT is off. */
    public Dht dht() {
        return dht;
    }

    @Override
    public boolean trackerless() {
        return dht != null;
    }

    @Override
    public TorrentSession seed(Metainfo metainfo, Path parent, SessionOptions options) {
        metainfo.requireDataIn(parent);
        return BtSession.start(this, BtSession.Source.of(metainfo), parent, options, true);
    }

    @Override
    public TorrentSession fetch(Metainfo metainfo, Path parent, SessionOptions options) {
        options.refuseOrigins(name());
        if (metainfo.trackers().isEmpty() && dht == null) {
            throw new io.cowherd.UnsupportedFeatureException("torrent " + metainfo.name() + " names no tracker and this "
                    + "engine runs without DHT; add a tracker (`cowherd seed --tracker`) or turn the DHT on (--dht)");
        }
        prepare(parent);
        LOG.info("fetching {} ({} bytes, {} pieces) into {} with {}", metainfo.name(), metainfo.totalSize(),
                metainfo.pieceCount(), parent, name());
        return BtSession.start(this, BtSession.Source.of(metainfo), parent, options, false);
    }

    @Override
    public TorrentSession fetch(MagnetLink magnet, Path parent, SessionOptions options) {
        Objects.requireNonNull(magnet, "magnet");
        options.refuseOrigins(name());
        if (magnet.trackers().isEmpty() && dht == null) {
            throw new io.cowherd.UnsupportedFeatureException("magnet link " + magnet.infoHashHex() + " names no tracker "
                    + "and this engine runs without DHT; turn the DHT on (--dht-bootstrap HOST:PORT)");
        }
        prepare(parent);
        LOG.info("fetching magnet {} into {} with {}", magnet.infoHashHex(), parent, name());
        return BtSession.start(this, BtSession.Source.of(magnet), parent, options, false);
    }

    private static void prepare(Path parent) {
        try {
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw CowIOException.wrap(parent, "creating", e);
        }
    }

    @Override
    public TrackerHandle startTracker(InetSocketAddress address) {
        return new TtorrentEngine().startTracker(address);
    }
}
