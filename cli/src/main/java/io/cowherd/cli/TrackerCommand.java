package io.cowherd.cli;

import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cowherd tracker HOST:PORT [TORRENT...]}: a BitTorrent tracker for the torrents named. */
@Command(name = "tracker", description = "Run a BitTorrent tracker (HTTP) for the torrents named, until stopped.")
final class TrackerCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "HOST:PORT")
    String address;

    @Parameters(index = "1..*", paramLabel = "TORRENT", description = "Torrents to track (this tracker tracks only the torrents it is given).")
    List<Path> torrents = List.of();

    @Option(names = "--tracker-locality", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "--tracker-locality (the default) answers announces rack-aware (the peers of the asker's /24, "
                    + "/64 for IPv6; two hosts per rack also get two others), --no-tracker-locality with random peers.")
    boolean trackerLocality;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        EmbeddedTracker t = EmbeddedTracker.start(TorrentCli.hostPort(address), trackerLocality);
        for (Path p : torrents) {
            Metainfo m = Metainfo.read(p);
            t.track(m);
            out.println("tracking " + m.infoHashHex() + " " + m.name());
        }
        out.println("tracker " + t.announceUrl() + "; stop with Ctrl-C");
        out.flush();
        TorrentCli.waitUntilStopped(t);
        return ExitCodes.OK;
    }
}
