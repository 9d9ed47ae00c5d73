package io.cowherd.distribution.torrent;

import io.cowherd.UnsupportedFeatureException;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * The engines on the class path, by name. Each engine's libraries are optional Maven dependencies
 * of {@code cowherd-distribution}: a program adds the engine it wants ({@code org.libtorrent4j:libtorrent4j}
 * and {@code libtorrent4j-linux} for libtorrent, {@code com.turn:ttorrent-core} for ttorrent); the
 * CLI ships both.
 */
public final class TorrentEngines {
    /**
     * The engine to use unless told otherwise. The benchmarks chose it: one pair on loopback, 1 GiB,
     * libtorrent about 240 MB/s against about 130 for ttorrent; in the namespace swarm they are
     * even. libtorrent also brings magnet links, the DHT, HTTP origins and session-wide rate limits.
     */
    public static final String DEFAULT = "libtorrent";

    private TorrentEngines() {
    }

    /** The names of every engine whose provider is on the class path, sorted, usable or not. */
    public static List<String> known() {
        return new ArrayList<>(providers().keySet());
    }

    /** The names of the engines that can run here (their libraries are on the class path), sorted. */
    public static List<String> available() {
        List<String> names = new ArrayList<>();
        providers().forEach((name, p) -> {
            if (p.missingLibraries().isEmpty()) {
                names.add(name);
            }
        });
        return names;
    }

    /**
     * A new engine by name.
     *
     * @throws IllegalArgumentException if no engine has that name
     * @throws UnsupportedFeatureException if the engine's libraries are missing (the message names them)
     */
    public static TorrentEngine named(String name) {
        TorrentEngineProvider p = providers().get(name);
        if (p == null) {
            throw new IllegalArgumentException("no BitTorrent engine named '" + name + "'; engines: " + String.join(", ", known()));
        }
        List<String> missing = p.missingLibraries();
        if (!missing.isEmpty()) {
            throw new UnsupportedFeatureException("the " + name + " engine needs " + String.join(" and ", missing)
                    + " on the class path (optional dependencies of cowherd-distribution); engines that can run: "
                    + (available().isEmpty() ? "none" : String.join(", ", available())));
        }
        return p.create();
    }

    /**
     * Refuses what {@code options} ask of {@code engine} that it did not declare (engines call this
     * before starting a session). {@code fetch}: whether the session fetches (origins apply to fetches only).
     *
     * @throws UnsupportedFeatureException naming the feature and the engines that have it
     */
    public static void requireFeatures(TorrentEngine engine, SessionOptions options, boolean fetch) {
        if (options.dhtBootstrapNodes() != null) {
            require(engine, EngineFeature.DHT, "join the DHT");
        }
        if (fetch && !options.origins().isEmpty()) {
            require(engine, EngineFeature.HTTP_ORIGIN, "fall back to an HTTP origin");
        }
        if (options.maxDownloadBytesPerSecond() > 0 || options.maxUploadBytesPerSecond() > 0) {
            if (options.perPeerRateLimits()) {
                require(engine, EngineFeature.PEER_RATE_LIMITS, "limit each peer connection's rate");
            } else {
                require(engine, EngineFeature.SESSION_RATE_LIMITS, "limit the session's rate as a whole");
            }
        }
    }

    /** Refuses {@code feature} unless {@code engine} declares it; {@code what} says what was asked, for the message. */
    public static void require(TorrentEngine engine, EngineFeature feature, String what) {
        if (!engine.features().contains(feature)) {
            List<String> with = withFeature(feature); // engine lacks it, so it is not among them
            throw new UnsupportedFeatureException("the " + engine.name() + " engine cannot " + what + " (" + feature + "); "
                    + (with.isEmpty() ? "no engine here can" : "use the " + String.join(" or ", with) + " engine"));
        }
    }

    /** The engines that can run here and declare {@code feature}, sorted. */
    static List<String> withFeature(EngineFeature feature) {
        List<String> with = new ArrayList<>();
        for (String n : available()) {
            // a throwaway engine only to read its features: engines are cheap until a session starts
            if (named(n).features().contains(feature)) {
                with.add(n);
            }
        }
        return with;
    }

    private static TreeMap<String, TorrentEngineProvider> providers() {
        TreeMap<String, TorrentEngineProvider> byName = new TreeMap<>();
        for (TorrentEngineProvider p : ServiceLoader.load(TorrentEngineProvider.class, TorrentEngines.class.getClassLoader())) {
            byName.putIfAbsent(p.name(), p);
        }
        return byName;
    }
}
