package io.cowherd.cli;

import io.cowherd.Pool;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.Volume;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.bundle.BundleManifest;
import io.cowherd.distribution.stream.MasterStream;
import io.cowherd.distribution.stream.StreamedDisk;
import io.cowherd.distribution.stream.StreamedMasters;
import io.cowherd.distribution.torrent.EngineFeature;
import io.cowherd.distribution.torrent.EngineTuning;
import io.cowherd.distribution.torrent.MagnetLink;
import io.cowherd.distribution.torrent.NoPeerException;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.Progress;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentEngines;
import io.cowherd.distribution.torrent.TorrentSession;
import io.cowherd.domain.DomainCloner;
import io.cowherd.domain.LocalMasterSwitch;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.libvirt.Connect;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cowherd fetch TORRENT --into DIR}: download a torrent, every piece verified. */
@Command(name = "fetch", description = "Download a torrent (a cowherd bundle or any ordinary torrent) into a directory, every piece verified.")
final class FetchCommand implements Callable<Integer> {
    @Parameters(paramLabel = "TORRENT|MAGNET")
    String source;

    @Option(names = "--into", paramLabel = "DIR", description = "Directory that receives the torrent's file or top directory "
            + "(required, but with --serve --pool: the pool's stream directory POOL/.streams).")
    Path into;

    @Option(names = "--seed-after", description = "Keep seeding after the download completes, until stopped.")
    boolean seedAfter;

    @Option(names = "--rate-limit", paramLabel = "RATE", description = "Download limit in bytes per second (e.g. 12M) for the whole session (libtorrent engine; ttorrent refuses it).")
    String rateLimit;

    @Option(names = "--rate-limit-up", paramLabel = "RATE", description = "Upload limit in bytes per second (as --rate-limit).")
    String rateLimitUp;

    @Option(names = "--bind", paramLabel = "ADDR", description = "Local address to listen on and announce (default: the one that reaches the tracker).")
    String bind;

    @Option(names = "--no-peer-timeout", defaultValue = "60", paramLabel = "SECONDS", description = "Fail when no verified piece arrives for this long.")
    long noPeerTimeout;

    @Option(names = "--pool", paramLabel = "DIR", description = "Then import the fetched bundle into this pool as a master "
            + "(hashes checked first). With --serve: its disks are the pool's masters at once, streaming, and switch to the "
            + "fetched files when the download is complete.")
    Path pool;

    @Option(names = "--name", paramLabel = "NAME", description = "The master's name in the pool (default: the bundle's name).")
    String name;

    @Option(names = "--origin", paramLabel = "URL", description = "HTTP origin of the data to fall back to when the swarm "
            + "stalls (libtorrent engine): the URL of the file, or of the directory holding the torrent's file or top "
            + "directory when it ends in /, e.g. what `cowherd seed --http-origin` serves. Repeatable.")
    List<java.net.URI> origins = new java.util.ArrayList<>();

    @Option(names = "--origin-after", defaultValue = "10", paramLabel = "SECONDS", description = "Seconds without a new "
            + "verified piece before the origins are used (0: from the start).")
    int originAfter;

    @Option(names = "--serve", description = "While fetching, export the bundle's disks (every file of another torrent) "
            + "read-only over NBD on a Unix socket: a read of what has not arrived fetches it first and waits for it "
            + "(libtorrent engine). After the download the export closes once no client reads it (see --connect); the "
            + "command seeds until stopped.")
    boolean serve;

    @Option(names = "--socket", paramLabel = "PATH", description = "The NBD socket of --serve (default: DIR/NAME.sock, "
            + "next to the fetched torrent; with --pool it must stay in POOL/.streams).")
    Path socket;

    @Option(names = "--read-timeout", defaultValue = "60", paramLabel = "SECONDS", description = "With --serve: how long a "
            + "read waits for a piece no peer has sent yet before it fails with an I/O error.")
    long readTimeout;

    @Option(names = "--record-profile", paramLabel = "FILE", description = "With --serve: record every read the exports "
            + "serve, in order, and write them to FILE when the export closes or the command stops: the boot profile "
            + "of a domain booted from the stream, for `cowherd bundle create --boot-profile`.")
    Path recordProfile;

    /** Writes the recorded boot profile once; null unless --record-profile. */
    private AutoCloseable saveProfile;

    @Option(names = {"-c", "--connect"}, paramLabel = "URI", description = "With --serve: once the download is complete, "
            + "move the clones on this libvirt connection that back onto the exports onto the local master (running "
            + "domains live, with a block copy of their own writes and a pivot; stopped ones by a rebase; with --pool "
            + "the running guests on the pool's clones of the streaming masters).")
    String connect;

    @Mixin
    PoolOptions poolOptions;

    @Mixin
    TorrentCli.EngineOptions engineOptions;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    OutputOption output;

    /** With --serve --pool: the pool whose streaming masters the bundle's disks are; else null. */
    private Pool streamPool;
    /** The streaming masters of {@link #streamPool}, once served. */
    private List<Volume> streaming = List.of();

    /**
     * The fetch's session options from the flags, with no listener: with --serve, the streaming
     * tuning (shallow request queues, see {@link EngineTuning#STREAMING}) under any --tune, and
     * seeding after the download (the export's clients may still read).
     */
    SessionOptions sessionOptions(List<java.net.URI> trackers) {
        return engineOptions.forFetch(bind, trackers, serve ? EngineTuning.STREAMING : EngineTuning.DEFAULT)
                .withRateLimits(rateLimit == null ? 0 : Sizes.parse(rateLimit), rateLimitUp == null ? 0 : Sizes.parse(rateLimitUp))
                .withNoPeerTimeout(Duration.ofSeconds(noPeerTimeout))
                .withSeedAfter(seedAfter || serve)
                .withOrigins(origins, Duration.ofSeconds(originAfter));
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        MagnetLink magnet = MagnetLink.isMagnet(source) ? MagnetLink.parse(source) : null;
        Metainfo m = magnet == null ? Metainfo.read(Path.of(source)) : null;
        TorrentEngine engine = engineOptions.engine();
        List<java.net.URI> trackers = magnet != null ? magnet.trackers() : m.trackers();
        SessionOptions o = sessionOptions(trackers);
        if (!Quiet.asked(spec)) {
            o = o.withListener(TorrentCli.progressBar(spec, "fetch"));
        }
        if (serve) {
            TorrentEngines.require(engine, EngineFeature.STREAMING, "serve a fetch in progress (--serve)");
        } else if (socket != null || connect != null || recordProfile != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), (socket != null ? "--socket"
                    : connect != null ? "--connect" : "--record-profile") + " needs --serve");
        }
        if (serve && pool != null) {
            openStreamPool(m);
        } else if (into == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--into DIR is required (but with --serve --pool)");
        }
        TorrentSession s;
        try {
            s = magnet != null ? engine.fetch(magnet, into, o) : engine.fetch(m, into, o);
        } catch (RuntimeException e) {
            closeStreamPool();
            throw e;
        }
        MasterStream stream = null;
        try {
            if (serve) {
                stream = serve(s, out);
            }
            s.awaitCompletion(Duration.ofDays(365));
        } catch (RuntimeException | java.util.concurrent.TimeoutException e) {
            RuntimeException report = e instanceof NoPeerException && stream != null
                    ? new NoPeerException(e.getMessage() + "; pieces no source had: " + ranges(stream.missingPieces()) + " (of "
                            + s.metainfo().pieceCount() + "); reads of them failed")
                    : null;
            if (stream != null) {
                stream.close();
            }
            s.close();
            closeStreamPool();
            if (report != null) {
                throw report;
            }
            throw e;
        }
        m = s.metainfo();
        Path result = into.resolve(m.name());
        if (streamPool != null) {
            streaming = StreamedMasters.complete(streamPool, masterName(m), stream, result);
        }
        List<LocalMasterSwitch.Moved> moved = stream != null && connect != null ? moveClones(stream, m, out) : List.of();
        java.util.Map<String, Object> json = new java.util.LinkedHashMap<>();
        json.put("fetched", result.toAbsolutePath().toString());
        json.put("info-hash", m.infoHashHex());
        json.put("size", m.totalSize());
        json.put("pieces", m.pieceCount());
        // an interrupted fetch run again: what it kept from disk, and what it had to download
        Progress done = s.progress();
        json.put("resumed-pieces", done.resumedPieces());
        json.put("downloaded", done.downloaded());
        if (!output.json()) {
            out.println("fetched " + result.toAbsolutePath() + " (" + Sizes.human(m.totalSize()) + ", " + m.pieceCount()
                    + " pieces verified" + (done.resumedPieces() > 0 ? ", " + done.resumedPieces() + " of them resumed from disk" : "")
                    + "; " + Sizes.human(done.downloaded()) + " downloaded)");
        }
        if (streamPool != null) {
            json.put("bundle-verified", true);
            json.put("pool", streamPool.location().toString());
            json.put("masters", streaming.stream().map(PoolOptions::json).toList());
            if (!output.json()) {
                streaming.forEach(v -> out.println("master " + v.name() + " now reads the fetched file (bundle verified)"));
            }
            closeStreamPool();
        } else if (Files.isDirectory(result) && Files.exists(result.resolve(BundleManifest.FILE_NAME))) {
            Bundle b = Bundle.open(result);
            if (pool != null) {
                try (Pool p = poolOptions.openOrCreate(pool, PoolOptions.DEFAULT_BACKEND)) {
                    List<Volume> masters = b.importInto(p, name != null ? name : m.name());
                    json.put("pool", p.location().toString());
                    json.put("masters", masters.stream().map(PoolOptions::json).toList());
                    if (!output.json()) {
                        masters.forEach(v -> out.println("master " + v.name() + " " + v.path()));
                    }
                }
            } else {
                b.verify();
                json.put("bundle-verified", true);
                if (!output.json()) {
                    out.println("bundle verified: " + b.manifest().files().size() + " files match their sha256");
                }
            }
        } else if (pool != null) {
            throw new UnsupportedFeatureException(result + " is not a cowherd bundle; only bundles import into a pool");
        }
        if (stream != null) {
            json.put("moved", moved.stream().map(mv -> {
                java.util.Map<String, Object> e = new java.util.LinkedHashMap<>();
                e.put("domain", mv.domain());
                e.put("disk", mv.disk());
                e.put("image", mv.image().toString());
                e.put("live", mv.live());
                return e;
            }).toList());
        }
        if (output.json()) {
            json.put("seeding", seedAfter || serve ? s.listenAddress().getAddress().getHostAddress() + ":"
                    + s.listenAddress().getPort() : null);
            Json.print(out, json);
        }
        out.flush();
        if (seedAfter || serve) {
            if (!output.json()) {
                out.println((serve ? "serving and " : "") + "seeding " + m.name() + " at " + s.listenAddress().getAddress().getHostAddress() + ":"
                        + s.listenAddress().getPort() + "; stop with Ctrl-C");
            }
            out.flush();
            if (stream != null) {
                closeWhenIdle(stream, saveProfile);
            }
            TorrentCli.waitUntilStopped(saveProfile, stream, s);
        } else {
            s.close();
        }
        return ExitCodes.OK;
    }

    /**
     * With --serve --pool: opens the pool (it must take streaming masters), puts the download in
     * its stream directory unless --into names a place inside the pool, and refuses a --socket
     * outside it, all before anything is fetched.
     */
    private void openStreamPool(Metainfo m) {
        boolean dirExisted = Files.exists(pool);
        boolean poolExisted = io.cowherd.Pools.backendAt(pool).isPresent();
        streamPool = poolOptions.openOrCreate(pool, PoolOptions.DEFAULT_BACKEND);
        try {
            streamPool.require(io.cowherd.Capability.STREAM);
            Path location = streamPool.location().toAbsolutePath().normalize();
            if (into == null) {
                into = streamPool.streamSockets();
            } else if (!into.toAbsolutePath().normalize().startsWith(location)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--into " + into + " is outside --pool "
                        + location + ": a streaming master's download lies inside its pool (leave --into out)");
            }
            if (socket != null && !streamPool.streamSockets().equals(socket.toAbsolutePath().normalize().getParent())) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--socket " + socket + " is outside "
                        + streamPool.streamSockets() + ", the only place the pool follows an export (leave --socket out)");
            }
            java.util.Optional<Volume> taken = m == null ? java.util.Optional.empty() : streamPool.find(masterName(m));
            if (taken.isPresent() && !streamsFrom(taken.get(), socketFor(m))) {
                throw new io.cowherd.VolumeExistsException("pool " + location + " already has a volume named '"
                        + masterName(m) + "' that is not this fetch's streaming master; choose another name (--name)");
            }
        } catch (RuntimeException e) {
            closeStreamPool();
            if (!poolExisted) {
                io.cowherd.Pools.removeIfEmpty(pool, !dirExisted); // a refused command leaves nothing behind
            }
            throw e;
        }
    }

    private void closeStreamPool() {
        if (streamPool != null) {
            streamPool.close();
        }
    }

    /** Where the exports listen: --socket, else next to the download or, with --pool, among the pool's stream sockets. */
    private Path socketFor(Metainfo m) {
        return socket != null ? socket
                : streamPool != null ? streamPool.streamSockets().resolve(masterName(m) + ".sock")
                : into.resolve(m.name() + ".sock");
    }

    /** Whether {@code v} is a streaming master whose stand-in backs onto an export on {@code socket} (this fetch run before). */
    private static boolean streamsFrom(Volume v, Path socket) {
        return StreamedMasters.streamingFrom(v).filter(uri -> uri.endsWith("?socket=" + socket.toAbsolutePath().normalize()))
                .isPresent();
    }

    /** The first master's name in the pool: --name, else the torrent's. */
    private String masterName(Metainfo m) {
        return name != null ? name : m.name();
    }

    /**
     * Starts the NBD export of the fetch (once a magnet link's metadata is here) and says where it
     * is: one line per export, or a first JSON document.
     */
    private MasterStream serve(TorrentSession s, PrintWriter out) throws InterruptedException {
        long until = System.nanoTime() + Duration.ofSeconds(noPeerTimeout).toNanos();
        while (s.metainfo() == null) {
            if (System.nanoTime() > until) {
                throw new NoPeerException("no peer sent the magnet link's metadata in " + noPeerTimeout + " s; nothing to serve");
            }
            Thread.sleep(50);
        }
        Path where = socketFor(s.metainfo());
        MasterStream stream = MasterStream.serve(s, into, where, Duration.ofSeconds(readTimeout), recordProfile != null);
        if (streamPool != null) {
            try {
                streaming = StreamedMasters.add(streamPool, masterName(s.metainfo()), stream);
            } catch (RuntimeException e) {
                stream.close();
                throw e;
            }
        }
        if (recordProfile != null) {
            // from now on: a stop at any moment (even before the download ends) still writes what was read
            saveProfile = profileSaver(stream);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    saveProfile.close();
                } catch (Exception e) {
                    // reported by the saver
                }
            }, "save-boot-profile"));
        }
        if (output.json()) {
            java.util.Map<String, Object> json = new java.util.LinkedHashMap<>();
            json.put("serving", stream.socket().toAbsolutePath().toString());
            if (streamPool != null) {
                json.put("pool", streamPool.location().toString());
                json.put("masters", streaming.stream().map(PoolOptions::json).toList());
            }
            json.put("exports", stream.disks().stream().map(d -> {
                java.util.Map<String, Object> e = new java.util.LinkedHashMap<>();
                e.put("export", d.export());
                e.put("uri", d.uri());
                e.put("format", d.format());
                e.put("size", d.size());
                e.put("virtual-size", d.virtualSize() < 0 ? null : d.virtualSize());
                return e;
            }).toList());
            Json.print(out, json);
        } else {
            for (StreamedDisk d : stream.disks()) {
                out.println("serving " + d.export() + (d.format() != null ? " (" + d.format() + ")" : "") + " at " + d.uri());
            }
            streaming.forEach(v -> out.println("master " + v.name() + " of pool " + streamPool.location() + " streams"));
        }
        out.flush();
        return stream;
    }

    /** The clones on {@link #connect} that back onto the exports, moved onto the fetched files. */
    private List<LocalMasterSwitch.Moved> moveClones(MasterStream stream, Metainfo m, PrintWriter out) {
        List<LocalMasterSwitch.Moved> moved = new java.util.ArrayList<>();
        Connect conn = DomainCloner.connect(connect);
        try {
            for (StreamedDisk d : stream.disks()) {
                Path local = m.isMultiFile() ? into.resolve(m.name()).resolve(d.export()) : into.resolve(m.name());
                moved.addAll(LocalMasterSwitch.moveAll(conn, stream.socket(), d.export(), local,
                        d.format() != null ? d.format() : "raw", Duration.ofMinutes(10)));
            }
            for (Volume master : streaming) {
                moved.addAll(LocalMasterSwitch.moveClones(conn, streamPool, master.name(), Duration.ofMinutes(10)));
            }
        } finally {
            try {
                conn.close();
            } catch (org.libvirt.LibvirtException e) {
                // the moves are done; a connection that does not close cleanly changes nothing
            }
        }
        if (!output.json()) {
            moved.forEach(mv -> out.println("moved " + mv.domain() + " " + mv.disk() + " onto the local master ("
                    + (mv.live() ? "running: copied and pivoted to " : "stopped: rebased ") + mv.image() + ")"));
        }
        return moved;
    }

    /**
     * The download is complete: the export closes once no client reads it any more (the clones
     * moved onto the local master); the fetch seeds on.
     */
    private static void closeWhenIdle(MasterStream stream, AutoCloseable before) {
        Thread t = new Thread(() -> {
            try {
                while (stream.clients() > 0) {
                    Thread.sleep(200);
                }
                if (before != null) {
                    before.close();
                }
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                // the profile saver logged it; the export closes all the same
            }
            stream.close();
            org.slf4j.LoggerFactory.getLogger(FetchCommand.class).info("export {} closed: the download is complete and no "
                    + "client reads it any more", stream.socket());
        }, "close-export-when-idle");
        t.setDaemon(true);
        t.start();
    }

    /** Writes the recorded boot profile to {@link #recordProfile}, once (at the export's close or the command's stop). */
    private AutoCloseable profileSaver(MasterStream stream) {
        java.util.concurrent.atomic.AtomicBoolean saved = new java.util.concurrent.atomic.AtomicBoolean();
        org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(FetchCommand.class);
        return () -> {
            if (saved.compareAndSet(false, true)) {
                try {
                    io.cowherd.distribution.bundle.BootProfile p = stream.recordedProfile();
                    p.save(recordProfile);
                    log.info("boot profile: {} reads written to {}", p.reads().size(), recordProfile);
                } catch (RuntimeException e) {
                    log.error("could not write the boot profile to {}: {}", recordProfile, e.getMessage());
                    throw e;
                }
            }
        };
    }

    /** Pieces as ranges: {@code 3-7, 12, 40-41}. */
    static String ranges(java.util.BitSet pieces) {
        StringBuilder b = new StringBuilder();
        for (int p = pieces.nextSetBit(0); p >= 0; ) {
            int end = pieces.nextClearBit(p) - 1;
            b.append(b.length() > 0 ? ", " : "").append(p).append(end > p ? "-" + end : "");
            p = pieces.nextSetBit(end + 1);
        }
        return b.length() == 0 ? "none" : b.toString();
    }
}
