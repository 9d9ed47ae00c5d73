package io.cowherd.cli;

import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.bundle.BundleManifest;
import io.cowherd.distribution.stream.BundleSeeding;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentSession;
import io.cowherd.distribution.torrent.origin.HttpOrigin;
import io.cowherd.distribution.torrent.seeder.InitialSeeder;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cowherd seed BUNDLE_DIR}: make the torrent of a bundle and share it until stopped. */
@Command(name = "seed", description = "Make the torrent of a bundle (or any file or directory) and seed it until stopped.")
final class SeedCommand implements Callable<Integer> {
    @Parameters(paramLabel = "BUNDLE_DIR")
    Path content;

    static final class TrackerChoice {
        @Option(names = "--tracker", paramLabel = "URL", description = "Announce to this tracker (http://HOST:PORT/announce).")
        URI tracker;

        @Option(names = "--embedded-tracker", paramLabel = "HOST:PORT", description = "Start a tracker here and announce to it.")
        String embedded;
    }

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    TrackerChoice trackerChoice;

    @Option(names = "--tracker-locality", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "With --embedded-tracker: --tracker-locality (the default) answers announces rack-aware (the "
                    + "peers of the asker's /24, /64 for IPv6; two hosts per rack also get two others), --no-tracker-locality "
                    + "with random peers.")
    boolean trackerLocality;

    @Mixin
    TorrentCli.EngineOptions engineOptions;

    @Option(names = "-p", description = "Show progress (a bar on a terminal, a line per 10%% otherwise).")
    boolean progress;

    @Option(names = "--torrent", paramLabel = "OUT", description = "Write the .torrent here (default: BUNDLE_DIR.torrent beside it).")
    Path torrentOut;

    @Option(names = "--magnet", description = "Also print a magnet link (`cowherd fetch MAGNET` with the libtorrent engine, or any client with metadata exchange).")
    boolean magnet;

    @Option(names = "--bind", paramLabel = "ADDR", description = "Local address to listen on and announce (default: the one that reaches the tracker).")
    String bind;

    @Option(names = "--rate-limit-up", paramLabel = "RATE", description = "Upload limit in bytes per second (e.g. 50M) for the whole session (libtorrent engine and --initial-seeding; ttorrent refuses it).")
    String rateUp;

    @Option(names = "--http-origin", paramLabel = "HOST:PORT", description = "Also serve the data over HTTP here (byte "
            + "ranges, read-only), as the origin fetches fall back to when the swarm stalls (`cowherd fetch --origin URL`, "
            + "libtorrent engine).")
    String httpOrigin;

    @Option(names = "--piece-size", paramLabel = "SIZE", description = "Piece size (default: chosen from the size, "
            + "about 1,000-2,000 pieces; for a bundle with a boot profile, which clones boot from while it arrives, "
            + "about 4,000-8,000).")
    String pieceSize;

    @Option(names = "--initial-seeding", description = "Send every piece once and let the fetches pass the pieces to "
            + "each other: for the first seed of a master that many hosts fetch at the same time (its upload bounds "
            + "the swarm). Any engine's fetches take part; needs a tracker, serves no magnet metadata. A fetch may ask "
            + "only for pieces offered to it: a bundle's boot profile is offered first, but a fetch --serve's reads "
            + "outside a profile wait for the seed's order, so seed a bundle without one plainly for such fetches.")
    boolean initialSeeding;

    @CommandLine.Mixin
    OutputOption output;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (!Files.exists(content)) {
            throw new io.cowherd.NoSuchVolumeException(content + " does not exist");
        }
        Bundle bundle = null;
        if (Files.isDirectory(content) && Files.exists(content.resolve(BundleManifest.FILE_NAME))) {
            bundle = Bundle.open(content);
            bundle.verify(ProgressPrinter.of(progress, spec, "verify"));
        }
        TorrentEngine engine = engineOptions.engine();
        if (initialSeeding && (trackerChoice == null || magnet)) {
            throw new IllegalArgumentException("--initial-seeding announces to a tracker (--tracker URL or --embedded-tracker "
                    + "HOST:PORT; no DHT) and serves no metadata to magnet links (no --magnet)");
        }
        if (trackerChoice == null && !engineOptions.dhtOn()) {
            throw new IllegalArgumentException("name a tracker (--tracker URL or --embedded-tracker HOST:PORT), or go "
                    + "trackerless with --dht (libtorrent engine)");
        }
        EmbeddedTracker tracker = null;
        URI announce = trackerChoice == null ? null : trackerChoice.tracker;
        if (trackerChoice != null && trackerChoice.embedded != null) {
            tracker = EmbeddedTracker.start(TorrentCli.hostPort(trackerChoice.embedded), trackerLocality);
            announce = tracker.announceUrl();
        }
        int pieceLength = pieceSize != null ? (int) Sizes.parse(pieceSize) : 0; // 0: the library chooses
        List<URI> trackers = announce == null ? List.of() : List.of(announce);
        Metainfo m = bundle != null
                ? BundleSeeding.metainfo(bundle, trackers, pieceLength, "cowherd", ProgressPrinter.of(progress, spec, "hash"))
                : Metainfo.create(content, trackers, pieceLength, "cowherd", ProgressPrinter.of(progress, spec, "hash"));
        if (tracker != null) {
            tracker.track(m);
        }
        Path torrent = torrentOut != null ? torrentOut
                : content.toAbsolutePath().resolveSibling(content.getFileName() + ".torrent");
        SessionOptions o = engineOptions.apply(SessionOptions.on(announce != null || engineOptions.firstBootstrap() == null
                        ? TorrentCli.bindAddress(bind, announce) : TorrentCli.bindAddress(bind, engineOptions.firstBootstrap())))
                .withRateLimits(0, rateUp == null ? 0 : Sizes.parse(rateUp));
        // a bundle's boot profile goes out first: hosts that boot clones on the stream find it soon
        // (a libtorrent seed serves whatever the fetches ask for first; an initial seed is told)
        TorrentSession s = !initialSeeding ? engine.seed(m, content.toAbsolutePath().getParent(), o)
                : bundle != null ? BundleSeeding.initialSeed(bundle, m, o)
                : InitialSeeder.start(m, content.toAbsolutePath().getParent(), o);
        HttpOrigin origin = null;
        if (httpOrigin != null) {
            origin = HttpOrigin.serve(content.toAbsolutePath().getParent(), TorrentCli.hostPort(httpOrigin));
        }
        // The .torrent appears only now that the seed listens: a script that waits for the file can fetch at once.
        m.save(torrent);
        String listen = s.listenAddress().getAddress().getHostAddress() + ":" + s.listenAddress().getPort();
        if (output.json()) {
            java.util.Map<String, Object> json = new java.util.LinkedHashMap<>();
            json.put("torrent", torrent.toAbsolutePath().toString());
            json.put("info-hash", m.infoHashHex());
            json.put("name", m.name());
            json.put("size", m.totalSize());
            json.put("pieces", m.pieceCount());
            json.put("piece-size", m.pieceLength());
            json.put("engine", initialSeeding ? "initial-seeding" : engine.name());
            json.put("tracker", announce == null ? null : announce.toString());
            json.put("listen", listen);
            json.put("magnet", magnet ? m.magnetUri() : null);
            json.put("origin", origin == null ? null : origin.url().toString());
            Json.print(out, json);
        } else {
            out.println("torrent " + torrent.toAbsolutePath());
            out.println("info-hash " + m.infoHashHex());
            out.println("engine " + (initialSeeding ? "initial seeding (cowherd)" : engine.name()));
            out.println("tracker " + (announce == null ? "none" : announce));
            if (engineOptions.dhtOn()) {
                out.println("dht-node " + listen + " (fetch with --dht-bootstrap this)");
            }
            if (magnet) {
                out.println(m.magnetUri());
            }
            if (origin != null) {
                out.println("origin " + origin.url() + " (fetch with --origin this)");
            }
            // The last line: a script may wait for it.
            out.println("seeding " + m.name() + " (" + Sizes.human(m.totalSize()) + ", " + m.pieceCount() + " pieces of "
                    + Sizes.human(m.pieceLength()) + ") at " + listen + "; stop with Ctrl-C");
        }
        out.flush();
        TorrentCli.waitUntilStopped(s, tracker, origin);
        return ExitCodes.OK;
    }
}
