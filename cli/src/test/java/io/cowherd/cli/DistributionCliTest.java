package io.cowherd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import io.cowherd.Pool;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.Pools;
import io.cowherd.distribution.torrent.EngineTuning;
import io.cowherd.distribution.torrent.SessionOptions;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** cowherd bundle, seed, fetch and tracker as a user and a script see them. */
@Timeout(120)
class DistributionCliTest {
    @TempDir
    Path dir;

    private Path disk() throws IOException {
        byte[] b = new byte[3 << 20];
        new Random(9).nextBytes(b);
        return Files.write(dir.resolve("golden.raw"), b);
    }

    private Path bundle() throws IOException {
        Path disk = disk();
        Path xml = Files.writeString(dir.resolve("golden.xml"), "<domain><name>golden</name></domain>");
        CliTest.Run r = CliTest.cowherd("bundle", "create", "--into", dir.resolve("b/golden").toString(), "-f", "raw",
                "--domain-xml", xml.toString(), disk.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("golden.raw"), r.out());
        return dir.resolve("b/golden");
    }

    /**
     * Runs {@code cowherd ARGS} (a seed, which runs until the JVM ends) on a daemon thread and
     * returns once its output has a line starting with {@code prefix}, or after 30 s.
     *
     * @return the seed's output so far
     */
    private static String startSeed(String prefix, String... args) throws InterruptedException {
        return startSeed(new StringWriter(), prefix, args);
    }

    /** As {@link #startSeed(String, String...)}, with the seed's stderr going to {@code seedErr}. */
    private static String startSeed(StringWriter seedErr, String prefix, String... args) throws InterruptedException {
        StringWriter seedOut = new StringWriter();
        Thread seeder = new Thread(() -> {
            CommandLine cl = CowherdCommand.commandLine();
            cl.setOut(new PrintWriter(seedOut, true));
            cl.setErr(new PrintWriter(seedErr, true));
            cl.execute(args);
        }, "cli-seed");
        seeder.setDaemon(true);
        seeder.start();
        for (int i = 0; i < 600 && !("\n" + seedOut).contains("\n" + prefix); i++) {
            Thread.sleep(50);
        }
        return seedOut.toString();
    }

    /** The first line of {@code output} that starts with {@code prefix}, or null. */
    private static String firstLine(String output, String prefix) {
        return output.lines().filter(l -> l.startsWith(prefix)).map(String::strip).findFirst().orElse(null);
    }

    @Test
    void bundleCreateExportImportIntoAPool() throws Exception {
        Path b = bundle();
        CliTest.Run guessed = CliTest.cowherd("bundle", "create", "-p", "--into", dir.resolve("x").toString(), disk().toString());
        assertEquals(0, guessed.exit(), "a disk with no signature is taken as raw: " + guessed.err());
        assertTrue(guessed.err().contains("reading it as raw") && guessed.err().contains("copy: 100%"), guessed.err());
        assertTrue(Files.readString(dir.resolve("x/cowherd-bundle.manifest")).contains("\traw\t"), "recorded as raw");
        Path qcow2 = dir.resolve("q.qcow2");
        CliTest.sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", qcow2.toString(), "1M");
        CliTest.Run probed = CliTest.cowherd("bundle", "create", "--into", dir.resolve("q").toString(), qcow2.toString());
        assertEquals(0, probed.exit(), probed.err());
        assertEquals("", probed.err(), "a qcow2 disk is found by its signature, without a warning");
        Path archive = dir.resolve("golden.tar.zst");
        CliTest.Run ex = CliTest.cowherd("bundle", "export", "-p", b.toString(), archive.toString());
        assertEquals(0, ex.exit(), ex.err());
        assertTrue(ex.err().contains("verify: 100%") && ex.err().contains("export: 100%"), ex.err());
        CliTest.Run im = CliTest.cowherd("bundle", "import", "-p", archive.toString(), "--into",
                dir.resolve("host/golden").toString(), "--pool", dir.resolve("pool").toString());
        assertEquals(0, im.exit(), im.err());
        assertTrue(im.err().contains("extract: 100%") && im.err().contains("verify and import: 100%"), im.err());
        assertFalse(im.err().contains("\r"), "plain lines on a pipe");
        assertTrue(im.out().contains("master golden "), im.out());
        CliTest.Run vols = CliTest.cowherd("volumes", dir.resolve("pool").toString());
        assertTrue(vols.out().contains("golden"), vols.out());
        assertEquals(6, CliTest.cowherd("bundle", "import", archive.toString(), "--into", dir.resolve("host/golden").toString()).exit(),
                "an existing target is a conflict");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"ttorrent", "libtorrent"})
    void seedThenFetchIntoAPoolWithAProgressBar(String engine) throws Exception {
        Path b = bundle();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path torrent = dir.resolve("golden.torrent");
        Thread seeder = new Thread(() -> CliTest.cowherd("seed", b.toString(), "--embedded-tracker", "127.0.0.1:" + port,
                "--bind", "127.0.2.1", "--torrent", torrent.toString(), "--magnet", "--engine", engine), "cli-seed");
        seeder.setDaemon(true);
        seeder.start();
        for (int i = 0; i < 600 && !Files.exists(torrent); i++) {
            Thread.sleep(50);
        }
        CliTest.Run f = CliTest.cowherd("fetch", torrent.toString(), "--into", dir.resolve("in").toString(), "--bind", "127.0.2.2",
                "--pool", dir.resolve("pool").toString(), "--name", "golden", "--engine", engine);
        assertEquals(0, f.exit(), f.err());
        assertTrue(f.out().contains("master golden "), f.out());
        assertTrue(f.err().contains("100%"), "progress bar on stderr: " + f.err());
        assertEquals(-1, Files.mismatch(b.resolve("golden.raw"), dir.resolve("in/golden/golden.raw")));
    }

    /** A script drives seed and fetch by their JSON; the .torrent appears only once the seed listens. */
    @Test
    void seedAndFetchSpeakJson() throws Exception {
        Path b = bundle();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path torrent = dir.resolve("j.torrent");
        StringWriter seedErr = new StringWriter();
        String seedOut = startSeed(seedErr, "}", "seed", b.toString(), "--embedded-tracker", "127.0.0.1:" + port, "--bind",
                "127.0.2.5", "--torrent", torrent.toString(), "--output=json", "-p");
        assertTrue(seedErr.toString().contains("verify: 100%") && seedErr.toString().contains("hash: 100%"),
                "-p: the bundle's verification and the piece hashing show progress: " + seedErr);
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        var seed = json.readTree(seedOut);
        assertEquals(torrent.toAbsolutePath().toString(), seed.get("torrent").asText());
        assertTrue(Files.exists(torrent), "written before the seed says it serves");
        assertTrue(seed.get("listen").asText().startsWith("127.0.2.5:"), seedOut);
        assertEquals(40, seed.get("info-hash").asText().length());
        CliTest.Run f = CliTest.cowherd("fetch", torrent.toString(), "--into", dir.resolve("jin").toString(), "--bind",
                "127.0.2.6", "--pool", dir.resolve("jpool").toString(), "--name", "golden", "--output=json", "--quiet");
        assertEquals(0, f.exit(), f.err());
        var fetched = json.readTree(f.out());
        assertEquals(seed.get("info-hash").asText(), fetched.get("info-hash").asText());
        assertEquals("golden", fetched.get("masters").get(0).get("name").asText());
        assertEquals("master", fetched.get("masters").get(0).get("role").asText());
        assertFalse(f.err().contains("%"), "--quiet: no progress: " + f.err());
    }

    /**
     * A bundle with a boot profile is cut into about twice as many pieces as one without (a boot
     * waits for whole pieces); {@code --piece-size} still decides when given.
     */
    @Test
    void aBundleWithABootProfileIsSeededInSmallerPieces() throws Exception {
        Path disk = dir.resolve("big.raw");
        try (var f = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(300L << 20); // sparse: 256 KiB pieces by the usual rule, 128 KiB for streaming
        }
        Path profile = Files.writeString(dir.resolve("profile"), "cowherd-boot-profile\t1\nbig.raw\t0\t4096\n");
        CliTest.Run r = CliTest.cowherd("bundle", "create", "--into", dir.resolve("p/big").toString(), "-f", "raw",
                "--boot-profile", profile.toString(), disk.toString());
        assertEquals(0, r.exit(), r.err());
        long size = Bundle.open(dir.resolve("p/big")).manifest().totalSize();
        assertEquals(256 << 10, io.cowherd.distribution.torrent.Metainfo.choosePieceLength(size), "the usual rule");
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String[] c : new String[][] {{"128K"}, {"1M", "--piece-size", "1M"}}) {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            List<String> args = new java.util.ArrayList<>(List.of("seed", dir.resolve("p/big").toString(),
                    "--embedded-tracker", "127.0.0.1:" + port, "--bind", "127.0.2.30", "--torrent",
                    dir.resolve("p" + c[0] + ".torrent").toString(), "--output=json"));
            args.addAll(List.of(c).subList(1, c.length));
            String seedOut = startSeed("}", args.toArray(String[]::new));
            assertEquals(Sizes.parse(c[0]), json.readTree(seedOut).get("piece-size").asLong(), seedOut);
        }
    }

    /**
     * {@code fetch --serve}: the bundle's disk is exported while it arrives (the seed sends 1 MiB/s),
     * QEMU reads all of it byte for byte through the socket the first JSON document names; an engine
     * that cannot stream is refused before anything is created, and {@code --socket} or {@code --connect} alone is a usage error (exit 1).
     */
    @Test
    void fetchServeExportsTheDiskWhileItArrives() throws Exception {
        Path b = bundle();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path torrent = dir.resolve("s.torrent");
        startSeed("}", "seed", b.toString(), "--embedded-tracker", "127.0.0.1:" + port, "--bind", "127.0.2.7", "--torrent",
                torrent.toString(), "--rate-limit-up", "1M", "--output=json", "--quiet");
        assertTrue(Files.exists(torrent));

        CliTest.Run refused = CliTest.cowherd("fetch", torrent.toString(), "--into", dir.resolve("tin").toString(), "--bind",
                "127.0.2.8", "--serve", "--engine", "ttorrent");
        assertEquals(5, refused.exit(), refused.err());
        assertTrue(refused.err().contains("STREAMING") && refused.err().contains("--serve"), refused.err());
        assertFalse(Files.exists(dir.resolve("tin")), "a refused fetch creates nothing");
        assertEquals(ExitCodes.USAGE, CliTest.cowherd("fetch", torrent.toString(), "--into", dir.resolve("tin").toString(), "--socket",
                dir.resolve("x.sock").toString()).exit(), "--socket without --serve");
        assertFalse(Files.exists(dir.resolve("tin")));
        assertEquals(ExitCodes.USAGE, CliTest.cowherd("fetch", torrent.toString(), "--into", dir.resolve("tin").toString(), "--connect",
                "test:///default").exit(), "--connect without --serve");
        assertFalse(Files.exists(dir.resolve("tin")));

        String served = startSeed("}", "fetch", torrent.toString(), "--into", dir.resolve("in").toString(), "--bind", "127.0.2.9",
                "--serve", "--output=json", "--quiet");
        var doc = new com.fasterxml.jackson.databind.ObjectMapper().readTree(served);
        assertEquals(dir.resolve("in/golden.sock").toAbsolutePath().toString(), doc.get("serving").asText());
        var export = doc.get("exports").get(0);
        assertEquals("golden.raw", export.get("export").asText());
        assertEquals("raw", export.get("format").asText());
        assertEquals(3L << 20, export.get("virtual-size").asLong());
        assertFalse(Files.exists(dir.resolve("in/golden/golden.raw")), "served before the download completed");
        String compare = CliTest.sh(dir, "qemu-img", "compare", "-f", "raw", "-F", "raw", export.get("uri").asText(),
                b.resolve("golden.raw").toString());
        assertTrue(compare.contains("Images are identical"), compare);
    }

    @Test
    void fetchServeIntoAPoolMakesAStreamingMasterAndRefusesWhatItCannotKeep() throws Exception {
        Path b = bundle();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path torrent = dir.resolve("s.torrent");
        startSeed("}", "seed", b.toString(), "--embedded-tracker", "127.0.0.1:" + port, "--bind", "127.0.2.20", "--torrent",
                torrent.toString(), "--rate-limit-up", "1M", "--output=json", "--quiet");
        assertTrue(Files.exists(torrent));

        // refused before anything is fetched, leaving nothing behind
        Path p = dir.resolve("pool");
        CliTest.Run vhd = CliTest.cowherd("fetch", torrent.toString(), "--pool", p.toString(), "--backend", "vhd",
                "--serve", "--bind", "127.0.2.21");
        assertEquals(5, vhd.exit(), vhd.err());
        assertTrue(vhd.err().contains("STREAM"), vhd.err());
        assertEquals(ExitCodes.USAGE, CliTest.cowherd("fetch", torrent.toString(), "--pool", p.toString(), "--serve",
                "--into", dir.resolve("elsewhere").toString()).exit(), "the download must lie in the pool");
        assertEquals(ExitCodes.USAGE, CliTest.cowherd("fetch", torrent.toString(), "--pool", p.toString(), "--serve",
                "--socket", dir.resolve("x.sock").toString()).exit(), "the socket must be one the pool follows");
        assertEquals(ExitCodes.USAGE, CliTest.cowherd("fetch", torrent.toString(), "--pool", p.toString()).exit(),
                "--into is needed unless --serve --pool");
        assertFalse(Files.exists(p), "refusals leave no pool behind");
        assertFalse(Files.exists(dir.resolve("elsewhere")));
        Path taken = dir.resolve("taken");
        try (Pool pool = Pools.openOrCreate(taken, "qcow2", "qcow2")) {
            pool.importMaster("golden", b.resolve("golden.raw"), "raw");
        }
        CliTest.Run clash = CliTest.cowherd("fetch", torrent.toString(), "--pool", taken.toString(), "--serve", "--bind",
                "127.0.2.21");
        assertEquals(ExitCodes.CONFLICT, clash.exit(), clash.err());
        assertFalse(Files.exists(taken.resolve(".streams")), "nothing fetched into a pool whose name is taken");

        String served = startSeed("}", "fetch", torrent.toString(), "--pool", p.toString(), "--bind", "127.0.2.22",
                "--serve", "--output=json", "--quiet");
        var doc = new com.fasterxml.jackson.databind.ObjectMapper().readTree(served);
        assertEquals(p.resolve(".streams/golden.sock").toAbsolutePath().toString(), doc.get("serving").asText(), served);
        assertEquals("golden", doc.get("masters").get(0).get("name").asText(), served);
        CliTest.Run clone = CliTest.cowherd("clone", p.resolve("golden.qcow2").toString(), "c1");
        assertEquals(0, clone.exit(), clone.err());
        String compare = CliTest.sh(dir, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", p.resolve("c1.qcow2").toString(),
                b.resolve("golden.raw").toString());
        assertTrue(compare.contains("Images are identical"), compare);
        CliTest.Run info = CliTest.cowherd("info", "--backing-chain", p.resolve("c1.qcow2").toString());
        assertEquals(0, info.exit(), info.err());
        // domain clone takes the streaming master as a golden domain's disk, as any master
        Path xml = Files.writeString(dir.resolve("golden.xml"), """
                <domain type='kvm'><name>golden</name><memory unit='MiB'>256</memory>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/><target dev='vda'/></disk>
                  </devices></domain>
                """.formatted(p.resolve("golden.qcow2")));
        CliTest.Run domains = CliTest.cowherd("domain", "clone", "--xml", xml.toString(), "--count", "1", "--name-pattern",
                "web-%d", "--pool", p.toString(), "--output-dir", dir.resolve("xml").toString());
        assertEquals(0, domains.exit(), domains.err());
        assertTrue(Files.readString(dir.resolve("xml/web-1.xml")).contains(p.resolve("web-1-vda.qcow2").toString()));
        String same = CliTest.sh(dir, "qemu-img", "compare", "-f", "qcow2", "-F", "raw",
                p.resolve("web-1-vda.qcow2").toString(), b.resolve("golden.raw").toString());
        assertTrue(same.contains("Images are identical"), same);
        long until = System.nanoTime() + java.time.Duration.ofSeconds(60).toNanos();
        String backing = null;
        while (System.nanoTime() < until) {
            try (Pool pool = Pools.open(p)) {
                backing = pool.info("golden").backingFilename();
            }
            if (backing.equals(".streams/golden/golden.raw")) {
                break;
            }
            Thread.sleep(100);
        }
        assertEquals(".streams/golden/golden.raw", backing, "the master reads the fetched file once it is complete");
        assertEquals(-1, Files.mismatch(b.resolve("golden.raw"), p.resolve(".streams/golden/golden.raw")));
        CliTest.Run check = CliTest.cowherd("check", p.resolve("c1.qcow2").toString());
        assertEquals(0, check.exit(), check.err());
    }

    @Test
    void fetchServeKeepsShallowRequestQueuesUnlessTuned() {
        assertEquals(EngineTuning.STREAMING, fetchOptions("--serve").tuning());
        assertTrue(fetchOptions("--serve").seedAfter(), "the export's clients may read after the download");
        assertEquals(EngineTuning.DEFAULT, fetchOptions().tuning());
        assertFalse(fetchOptions().seedAfter());
        assertEquals(100, fetchOptions("--serve", "--tune", "maxOutRequests=100").tuning().maxOutRequests());
        SessionOptions other = fetchOptions("--serve", "--tune", "requestQueueSeconds=2");
        assertEquals(EngineTuning.STREAMING.maxOutRequests(), other.tuning().maxOutRequests(), "--tune changes only its field");
        assertEquals(2, other.tuning().requestQueueSeconds());
    }

    /** The session options of {@code cowherd fetch x.torrent --into d --bind 127.0.0.1 ARGS}. */
    private static SessionOptions fetchOptions(String... args) {
        List<String> all = new java.util.ArrayList<>(List.of("fetch", "x.torrent", "--into", "d", "--bind", "127.0.0.1"));
        all.addAll(List.of(args));
        CommandLine.ParseResult parsed = CowherdCommand.commandLine(all.toArray(String[]::new)).parseArgs(all.toArray(String[]::new));
        FetchCommand fetch = (FetchCommand) parsed.subcommand().commandSpec().userObject();
        return fetch.sessionOptions(List.of(java.net.URI.create("http://127.0.0.1:6969/announce")));
    }

    @Test
    void missingPiecesAreNamedAsRanges() {
        java.util.BitSet b = new java.util.BitSet();
        b.set(0, 3);
        b.set(5);
        b.set(7, 9);
        assertEquals("0-2, 5, 7-8", FetchCommand.ranges(b));
        assertEquals("none", FetchCommand.ranges(new java.util.BitSet()));
    }

    @Test
    void seedPrintsAMagnetLinkThatFetchTakes() throws Exception {
        Path b = bundle();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        String seedOut = startSeed("magnet:", "seed", b.toString(), "--embedded-tracker", "127.0.0.1:" + port, "--magnet",
                "--bind", "127.0.2.3", "--torrent", dir.resolve("golden.torrent").toString());
        String magnet = firstLine(seedOut, "magnet:");
        assertTrue(magnet != null, "the seed printed its magnet link: " + seedOut);
        CliTest.Run f = CliTest.cowherd("fetch", magnet, "--into", dir.resolve("in").toString(), "--bind", "127.0.2.4");
        assertEquals(0, f.exit(), f.err());
        assertTrue(f.out().contains("bundle verified"), f.out());
        assertEquals(-1, Files.mismatch(b.resolve("golden.raw"), dir.resolve("in/golden/golden.raw")));
    }

    @Test
    void anInitialSeedShipsABundleAndRefusesWhatItCannotServe() throws Exception {
        Path b = bundle();
        assertEquals(ExitCodes.USAGE, CliTest.cowherd("seed", b.toString(), "--initial-seeding", "--dht").exit(),
                "initial seeding needs a tracker");
        assertEquals(ExitCodes.USAGE, CliTest.cowherd("seed", b.toString(), "--initial-seeding", "--magnet",
                "--tracker", "http://127.0.0.1:1/announce").exit(), "it serves no metadata for magnet links");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path torrent = dir.resolve("golden.torrent");
        String seedOut = startSeed("seeding ", "seed", b.toString(), "--initial-seeding", "--embedded-tracker",
                "127.0.0.1:" + port, "--bind", "127.0.2.7", "--torrent", torrent.toString());
        assertTrue(seedOut.contains("engine initial seeding"), seedOut);
        CliTest.Run f = CliTest.cowherd("fetch", torrent.toString(), "--into", dir.resolve("in").toString(), "--bind",
                "127.0.2.8");
        assertEquals(0, f.exit(), f.err());
        assertTrue(f.out().contains("bundle verified"), f.out());
        assertEquals(-1, Files.mismatch(b.resolve("golden.raw"), dir.resolve("in/golden/golden.raw")));
    }

    @Test
    void seedServesAnHttpOriginThatFetchUses() throws Exception {
        Path b = bundle();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path torrent = dir.resolve("golden.torrent");
        String seedOut = startSeed("origin ", "seed", b.toString(), "--embedded-tracker", "127.0.0.1:" + port, "--bind",
                "127.0.2.5", "--http-origin", "127.0.2.5:0", "--torrent", torrent.toString(), "--engine", "libtorrent");
        String line = firstLine(seedOut, "origin ");
        String origin = line == null ? null : line.split(" ")[1];
        assertTrue(origin != null && origin.startsWith("http://127.0.2.5:"), "the seed printed its origin: " + seedOut);
        try (java.io.InputStream in = java.net.URI.create(origin + "golden/golden.raw").toURL().openStream()) {
            assertEquals(-1, java.util.Arrays.mismatch(Files.readAllBytes(b.resolve("golden.raw")), in.readAllBytes()),
                    "the origin serves the bundle's files");
        }
        CliTest.Run f = CliTest.cowherd("fetch", torrent.toString(), "--into", dir.resolve("in").toString(), "--bind",
                "127.0.2.6", "--origin", origin, "--origin-after", "0", "--engine", "libtorrent");
        assertEquals(0, f.exit(), f.err());
        assertEquals(-1, Files.mismatch(b.resolve("golden.raw"), dir.resolve("in/golden/golden.raw")));
    }

    @Test
    void magnetsAndHostileTorrentsAreRefused() throws IOException {
        assertEquals(5, CliTest.cowherd("fetch", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567",
                "--into", dir.toString(), "--engine", "ttorrent").exit(), "ttorrent has no metadata exchange");
        assertEquals(5, CliTest.cowherd("fetch", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567",
                "--into", dir.toString()).exit(), "the default engine without tracker or DHT: nowhere to find peers");
        assertEquals(5, CliTest.cowherd("fetch", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&tr=http%3A%2F%2F127.0.0.1%3A1%2Fannounce",
                "--into", dir.toString(), "--engine", "ttorrent", "--origin", "http://127.0.0.1:1/").exit(),
                "only libtorrent falls back to an HTTP origin");
        assertEquals(1, CliTest.cowherd("fetch", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567",
                "--into", dir.toString(), "--engine", "bt").exit(), "bt is retired: an unknown engine");
        assertEquals(1, CliTest.cowherd("fetch", "magnet:?xt=urn:btih:0123", "--into", dir.toString()).exit(),
                "a malformed magnet link is a usage error");
        assertEquals(5, CliTest.cowherd("seed", disk().toString(), "--engine", "ttorrent", "--dht").exit(),
                "ttorrent has no DHT");
        assertEquals(1, CliTest.cowherd("seed", disk().toString()).exit(), "no tracker and no DHT");
        String evil = "d8:announce27:http://127.0.0.1:1/announce4:infod6:lengthi10e4:name2:..12:piece lengthi16384e6:pieces20:"
                + "01234567890123456789ee";
        Path t = Files.write(dir.resolve("evil.torrent"), evil.getBytes(StandardCharsets.ISO_8859_1));
        CliTest.Run r = CliTest.cowherd("fetch", t.toString(), "--into", dir.resolve("in").toString(), "--bind", "127.0.0.1");
        assertEquals(8, r.exit(), r.err());
        assertEquals(3, CliTest.cowherd("seed", dir.resolve("missing").toString(), "--tracker", "http://127.0.0.1:1/announce").exit());
    }
}
