package io.cowherd.cli;

import io.cowherd.Pool;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.deploy.DeployOptions;
import io.cowherd.distribution.deploy.DeployReport;
import io.cowherd.distribution.deploy.Deployer;
import io.cowherd.distribution.torrent.EngineTuning;
import io.cowherd.distribution.torrent.MagnetLink;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.Progress;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentSession;
import io.cowherd.domain.DomainCloner;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.libvirt.Connect;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cowherd deploy}: one host from a bundle to running domains, each its own machine. */
@Command(name = "deploy", description = {"From a bundle to N running domains on this host, in one step: fetch it (a torrent or "
    + "magnet link), import its disks into a pool as masters (or reuse them), clone its domain N times with an identity "
    + "each, define and start them, then keep seeding. A rerun makes only what is missing.",
    "  cowherd deploy BUNDLE_DIR|TORRENT|MAGNET --pool DIR --count N [--connect URI] [--into DIR] [--hostname web-%%02d --cloud-init]"})
final class DeployCommand implements Callable<Integer> {
    @Parameters(paramLabel = "BUNDLE_DIR|TORRENT|MAGNET")
    String source;

    @Option(names = "--pool", required = true, paramLabel = "DIR", description = "Pool for the masters and the clones' disks.")
    Path pool;

    @Option(names = "--count", defaultValue = "1", paramLabel = "N", description = "Number of domains.")
    int count;

    @Option(names = {"-c", "--connect"}, paramLabel = "URI", description = "libvirt connection URI (default: "
            + "$LIBVIRT_DEFAULT_URI, else libvirt's own default, as virsh does).")
    String connect;

    @Option(names = "--name", paramLabel = "NAME", description = "The master's name in the pool (default: the bundle's name).")
    String name;

    @Option(names = "--name-pattern", paramLabel = "PATTERN", description = "printf pattern of the domains' names, "
            + "numbered from --first-index (default: MASTER-%%d).")
    String namePattern;

    @Option(names = "--first-index", defaultValue = "1", paramLabel = "N", description = "Index of the first domain.")
    int firstIndex;

    @Mixin
    IdentityOptions identity;

    @Option(names = "--no-start", description = "Define the domains without starting them.")
    boolean noStart;

    @Option(names = "--dry-run", description = "Say what would be fetched, imported, defined and started; do nothing.")
    boolean dryRun;

    @Option(names = "--into", paramLabel = "DIR", description = "With a torrent or magnet link: where the bundle is "
            + "fetched (default: POOL/.bundles; a rerun finds it there and fetches only what is missing).")
    Path into;

    @Option(names = "--no-seed", description = "With a torrent or magnet link: stop when the domains run instead of "
            + "seeding the bundle until stopped.")
    boolean noSeed;

    @Option(names = "--bind", paramLabel = "ADDR", description = "Local address to listen on and announce (default: the one "
            + "that reaches the tracker).")
    String bind;

    @Option(names = "--no-peer-timeout", defaultValue = "60", paramLabel = "SECONDS", description = "Fail when no verified "
            + "piece arrives for this long.")
    long noPeerTimeout;

    @Mixin
    PoolOptions poolOptions;

    @Mixin
    TorrentCli.EngineOptions engineOptions;

    @Mixin
    OutputOption output;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (count < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--count must be at least 1");
        }
        DeployOptions options = DeployOptions.builder().master(name).count(count).namePattern(namePattern)
                .firstIndex(firstIndex).identity(identity.identity(spec.commandLine())).start(!noStart).dryRun(dryRun)
                .progress(step -> {
                    if (!Quiet.asked(spec) && !dryRun) {
                        spec.commandLine().getErr().println("deploy: " + step);
                        spec.commandLine().getErr().flush();
                    }
                })
                .build();
        PrintWriter out = spec.commandLine().getOut();
        boolean poolDirExisted = Files.exists(pool);
        boolean poolExisted = io.cowherd.Pools.backendAt(pool).isPresent();
        boolean torrent = MagnetLink.isMagnet(source) || !Files.isDirectory(Path.of(source));
        Path where = into != null ? into : pool.resolve(".bundles");
        TorrentSession session = null;
        Bundle bundle;
        Map<String, Object> fetched = null;
        if (!torrent) {
            bundle = Bundle.open(Path.of(source));
        } else {
            MagnetLink magnet = MagnetLink.isMagnet(source) ? MagnetLink.parse(source) : null;
            Metainfo m = magnet == null ? Metainfo.read(Path.of(source)) : null;
            if (dryRun) {
                try {
                    return dryRunOfTorrent(out, magnet, m, where, options);
                } finally {
                    forgetNewPool(poolExisted, poolDirExisted);
                }
            }
            if (m != null) {
                checkRoomToFetch(m, where);
            }
            Files.createDirectories(where);
            TorrentEngine engine = engineOptions.engine();
            SessionOptions o = engineOptions.forFetch(bind, magnet != null ? magnet.trackers() : m.trackers(), EngineTuning.DEFAULT)
                    .withNoPeerTimeout(Duration.ofSeconds(noPeerTimeout)).withSeedAfter(!noSeed);
            if (!Quiet.asked(spec)) {
                o = o.withListener(TorrentCli.progressBar(spec, "fetch"));
            }
            session = magnet != null ? engine.fetch(magnet, where, o) : engine.fetch(m, where, o);
            try {
                session.awaitCompletion(Duration.ofDays(365));
                m = session.metainfo();
                bundle = Bundle.open(where.resolve(m.name()));
            } catch (RuntimeException | java.util.concurrent.TimeoutException e) {
                session.close();
                throw e;
            }
            Progress p = session.progress();
            fetched = new LinkedHashMap<>();
            fetched.put("bundle", bundle.directory().toAbsolutePath().toString());
            fetched.put("info-hash", m.infoHashHex());
            fetched.put("resumed-pieces", p.resumedPieces());
            fetched.put("downloaded", p.downloaded());
            if (!output.json()) {
                out.println("fetched " + bundle.directory().toAbsolutePath() + " (" + Sizes.human(m.totalSize()) + "; "
                        + Sizes.human(p.downloaded()) + " downloaded)");
            }
        }
        DeployReport report;
        Connect conn = connection();
        try (Pool p = poolOptions.openOrCreate(pool, PoolOptions.DEFAULT_BACKEND)) {
            report = new Deployer(conn, p).deploy(bundle, options);
        } catch (RuntimeException e) {
            if (session != null) {
                session.close();
            }
            forgetNewPool(poolExisted, poolDirExisted); // a refused deployment leaves no empty pool
            throw e;
        } finally {
            conn.close();
        }
        if (dryRun) {
            forgetNewPool(poolExisted, poolDirExisted);
        }
        print(out, report, fetched);
        if (session != null && !noSeed) {
            if (!output.json()) {
                out.println("seeding " + bundle.directory().getFileName() + " at " + session.listenAddress().getAddress()
                        .getHostAddress() + ":" + session.listenAddress().getPort() + "; stop with Ctrl-C");
            }
            out.flush();
            TorrentCli.waitUntilStopped(session);
        } else if (session != null) {
            session.close();
        }
        out.flush();
        return ExitCodes.OK;
    }

    /**
     * Refuses, before anything is fetched, a torrent whose bundle cannot fit: what is not yet in
     * {@code where}, and, when the pool lies on the same file system, the import of its disks
     * (at most the bundle's size). A magnet link's size is known only later: the deployment's own
     * check of the pool then applies.
     */
    private void checkRoomToFetch(Metainfo m, Path where) throws java.io.IOException {
        Path there = where.resolve(m.name());
        long present = 0;
        if (Files.exists(there)) {
            try (java.util.stream.Stream<Path> files = Files.walk(there)) {
                present = files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
            }
        }
        Path existing = where.toAbsolutePath();
        while (!Files.exists(existing)) {
            existing = existing.getParent();
        }
        Path poolExisting = pool.toAbsolutePath();
        while (!Files.exists(poolExisting)) {
            poolExisting = poolExisting.getParent();
        }
        java.nio.file.FileStore store = Files.getFileStore(existing);
        boolean samePlace = store.equals(Files.getFileStore(poolExisting));
        long needed = Math.max(0, m.totalSize() - present) + (samePlace ? m.totalSize() : 0);
        long free = store.getUsableSpace();
        if (free < needed) {
            throw new io.cowherd.OutOfSpaceException(existing + " has " + free + " bytes free, but fetching bundle " + m.name()
                    + " (" + m.totalSize() + " bytes) into " + where + (samePlace ? " and importing its disks into pool "
                    + pool : "") + " may need " + needed + "; nothing was fetched or made", null);
        }
    }

    /** The libvirt connection of --connect, else $LIBVIRT_DEFAULT_URI, else libvirt's default. */
    private Connect connection() {
        return DomainCloner.connect(connect != null ? connect : System.getenv("LIBVIRT_DEFAULT_URI"));
    }

    /** Removes the pool this command created, when it records no volume (a refusal, a dry run). */
    private void forgetNewPool(boolean poolExisted, boolean poolDirExisted) {
        if (!poolExisted) {
            io.cowherd.Pools.removeIfEmpty(pool, !poolDirExisted);
        }
    }

    /** A dry run of a torrent fetches nothing: it says what it would fetch, and plans from a bundle already there. */
    private int dryRunOfTorrent(PrintWriter out, MagnetLink magnet, Metainfo m, Path where, DeployOptions options)
            throws Exception {
        String bundleName = m != null ? m.name() : magnet.displayName();
        Path there = bundleName == null ? null : where.resolve(bundleName);
        if (there != null && Files.isRegularFile(there.resolve(io.cowherd.distribution.bundle.BundleManifest.FILE_NAME))) {
            Connect conn = connection();
            try (Pool p = poolOptions.openOrCreate(pool, PoolOptions.DEFAULT_BACKEND)) {
                Map<String, Object> fetched = Map.of("bundle", there.toAbsolutePath().toString(), "would-fetch", false);
                print(out, new Deployer(conn, p).deploy(Bundle.open(there), options), fetched);
                return ExitCodes.OK;
            } catch (io.cowherd.distribution.bundle.BundleIntegrityException e) {
                // an unfinished download: what the fetch would complete
            } finally {
                conn.close();
            }
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("dry-run", true);
        json.put("would-fetch", m != null ? m.name() : source);
        json.put("into", where.toAbsolutePath().toString());
        json.put("size", m != null ? m.totalSize() : null);
        String master = name != null ? name : String.valueOf(bundleName);
        json.put("domains", java.util.stream.IntStream.range(0, options.count())
                .mapToObj(i -> options.nameFor(master, options.firstIndex() + i)).toList());
        if (output.json()) {
            Json.print(out, json);
        } else {
            out.println("would fetch " + json.get("would-fetch") + (m != null ? " (" + Sizes.human(m.totalSize()) + ")" : "")
                    + " into " + where.toAbsolutePath() + ", then import its disks and define " + json.get("domains"));
        }
        out.flush();
        return ExitCodes.OK;
    }

    private void print(PrintWriter out, DeployReport r, Map<String, Object> fetched) {
        if (output.json()) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("dry-run", r.dryRun());
            if (fetched != null) {
                json.putAll(fetched);
            }
            json.put("pool", pool.toAbsolutePath().toString());
            json.put("masters", r.masters().stream().map(m -> {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", m.name());
                e.put("disk", m.disk());
                e.put("action", m.action().name().toLowerCase(java.util.Locale.ROOT));
                e.put("path", m.path() == null ? null : m.path().toString());
                return e;
            }).toList());
            json.put("domains", r.domains().stream().map(d -> {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", d.name());
                e.put("action", d.action().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
                e.put("uuid", d.uuid());
                e.put("hostname", d.hostname());
                e.put("started", d.started());
                e.put("running", d.running());
                return e;
            }).toList());
            json.put("nothing-to-do", r.nothingToDo());
            Json.print(out, json);
            return;
        }
        String would = r.dryRun() ? "would " : "";
        for (DeployReport.MasterStep m : r.masters()) {
            out.println("master " + m.name() + " " + (m.action() == DeployReport.MasterAction.REUSE ? "reused"
                    : r.dryRun() ? "would be imported" : "imported") + " (" + m.disk() + ")" + (m.path() != null ? " " + m.path() : ""));
        }
        for (DeployReport.DomainStep d : r.domains()) {
            String what = switch (d.action()) {
                case CREATE -> r.dryRun() ? "would be created" : "created";
                case TAKE_BACK -> r.dryRun() ? "would be defined again on its disks" : "defined again on its disks";
                case KEEP -> "already defined";
            };
            out.println("domain " + d.name() + " " + what + (d.uuid() != null ? " uuid=" + d.uuid() : "")
                    + (d.hostname() != null ? " hostname=" + d.hostname() : "")
                    + (d.started() ? " " + would + "started" : d.running() ? " running" : ""));
        }
        if (r.nothingToDo()) {
            out.println("nothing to do: every domain is defined" + (noStart ? "" : " and running"));
        }
    }
}
