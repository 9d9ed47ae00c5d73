package io.cowherd.distribution.torrent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.PolicyViolationException;
import io.cowherd.UnsupportedFeatureException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What only the bt engine does: trackerless operation over the DHT and magnet links, session-wide
 * rate limits. Loopback only: the DHT nodes know no node but each other (no public router).
 */
@Timeout(120)
class BtEngineTest {
    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    @Test
    void aMagnetLinkFetchGetsTheMetadataFromPeersAndIsByteIdentical() throws Exception {
        TorrentEngine engine = new BtEngine();
        TrackerHandle tracker = open.keep(engine.startTracker(SwarmFixture.trackerAddress()));
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/dir/disk.raw"), 8L << 20, 23);
        java.nio.file.Files.writeString(tmp.resolve("seed/dir/domain.xml"), "<domain/>");
        Metainfo m = Metainfo.create(data.getParent(), List.of(tracker.announceUrl()), 256 << 10, "test");
        tracker.track(m);
        open.keep(engine.seed(m, tmp.resolve("seed"), SessionOptions.on(SwarmFixture.host())));
        MagnetLink magnet = MagnetLink.parse(m.magnetUri()); // info hash, name and tracker: no metainfo
        TorrentSession fetch = open.keep(engine.fetch(magnet, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())));
        fetch.awaitCompletion(WAIT);
        assertEquals(m.infoHashHex(), fetch.metainfo().infoHashHex(), "the metadata came from the seed");
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out/dir/disk.raw")));
        assertEquals("<domain/>", java.nio.file.Files.readString(tmp.resolve("out/dir/domain.xml")));
    }

    /**
     * Not on loopback: bt-dht's mldht (1.10) starts a DHT server only on the wildcard address,
     * the default route's address or a non-loopback interface address, and bt lets it bind only
     * to the session's own address; a session bound to 127.x therefore never gets a DHT server
     * and every lookup waits forever for one ({@code RPCServerManager.startNewServers},
     * {@code AddressUtils.nonlocalAddresses}). Runs where sessions can bind non-loopback
     * addresses: set {@code -Dcowherd.test.dhtAddress=ADDR} to a local, non-loopback address
     * (the namespace testbed's hosts have one each).
     */
    @Test
    @org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "cowherd.test.dhtAddress", matches = ".+")
    void aMagnetFetchFindsTheSeedThroughTheDhtAloneAndIsByteIdentical() throws Exception {
        java.net.InetAddress host = java.net.InetAddress.getByName(System.getProperty("cowherd.test.dhtAddress"));
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/dir/disk.raw"), 8L << 20, 21);
        java.nio.file.Files.writeString(tmp.resolve("seed/dir/domain.xml"), "<domain/>");
        Metainfo m = Metainfo.create(data.getParent(), List.of(), 256 << 10, "test"); // no tracker at all
        assertTrue(m.trackers().isEmpty());
        TorrentSession seed = open.keep(new BtEngine(new BtEngine.Dht(List.of()))
                .seed(m, tmp.resolve("seed"), SessionOptions.on(host)));
        InetSocketAddress node = seed.listenAddress();

        MagnetLink magnet = MagnetLink.parse(m.magnetUri());
        assertTrue(magnet.trackers().isEmpty(), "the magnet link names no tracker and no peer");
        TorrentSession fetch = open.keep(new BtEngine(new BtEngine.Dht(List.of(node)))
                .fetch(magnet, tmp.resolve("out"), SessionOptions.on(host).withNoPeerTimeout(Duration.ofSeconds(60))));
        fetch.awaitCompletion(WAIT);
        assertEquals(m.infoHashHex(), fetch.metainfo().infoHashHex(), "the metadata came from the seed");
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out/dir/disk.raw")));
        assertEquals("<domain/>", java.nio.file.Files.readString(tmp.resolve("out/dir/domain.xml")));
    }

    @Test
    void aTorrentWithoutTrackerNeedsTheDht() throws IOException {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/a.raw"), 1L << 20, 2);
        Metainfo m = Metainfo.create(data, List.of(), 0, "test");
        assertThrows(UnsupportedFeatureException.class,
                () -> new BtEngine().fetch(m, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())));
        assertThrows(UnsupportedFeatureException.class, () -> new TtorrentEngine().fetch(MagnetLink.parse(m.magnetUri()),
                tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())));
    }

    @Test
    void theDownloadLimitHoldsForTheWholeSession() throws Exception {
        TorrentEngine engine = new BtEngine();
        TrackerHandle tracker = open.keep(engine.startTracker(SwarmFixture.trackerAddress()));
        long size = 6L << 20;
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/golden.raw"), size, 4);
        Metainfo m = Metainfo.create(data, List.of(tracker.announceUrl()), 256 << 10, "test");
        tracker.track(m);
        open.keep(engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host())));
        open.keep(engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host())));
        long limit = 2L << 20;
        long t0 = System.nanoTime();
        TorrentSession s = open.keep(engine.fetch(m, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())
                .withRateLimits(limit, 0)));
        s.awaitCompletion(WAIT);
        double secs = (System.nanoTime() - t0) / 1e9;
        assertTrue(SwarmFixture.sameBytes(data, tmp.resolve("out/golden.raw")));
        // 6 MiB at 2 MiB/s from two seeds: about 3 s (less the burst), never much less
        assertTrue(secs > 2.2, "6 MiB at 2 MiB/s took only " + secs + " s");
    }

    @Test
    void magnetLinksParseStrictly() {
        String hex = "0123456789abcdef0123456789abcdef01234567";
        MagnetLink a = MagnetLink.parse("magnet:?xt=urn:btih:" + hex.toUpperCase() + "&dn=golden&tr=http%3A%2F%2F10.0.0.1%3A6969%2Fannounce");
        assertEquals(hex, a.infoHashHex());
        assertEquals("golden", a.displayName());
        assertEquals("http://10.0.0.1:6969/announce", a.trackers().get(0).toString());
        // the same hash in base32 (RFC 4648)
        MagnetLink b = MagnetLink.parse("magnet:?xt=urn:btih:AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH");
        assertArrayEquals(HexFormat.of().parseHex(hex), b.infoHash());
        assertNull(b.displayName());
        assertThrows(IllegalArgumentException.class, () -> MagnetLink.parse("magnet:?dn=x"));
        assertThrows(IllegalArgumentException.class, () -> MagnetLink.parse("magnet:?xt=urn:btih:1234"));
        assertThrows(IllegalArgumentException.class, () -> MagnetLink.parse("http://example.com/x.torrent"));
    }

    @Test
    void metadataFromPeersIsCheckedLikeATorrentFile() {
        String evilInfo = "d6:lengthi10e4:name2:..12:piece lengthi16384e6:pieces20:01234567890123456789e";
        byte[] info = evilInfo.getBytes(StandardCharsets.ISO_8859_1);
        MagnetLink magnet = new MagnetLink("magnet:", Metainfo.sha1(info), null, List.of());
        assertThrows(PolicyViolationException.class, () -> magnet.metainfoFrom(info));
        MagnetLink other = new MagnetLink("magnet:", new byte[20], null, List.of());
        String goodInfo = "d6:lengthi10e4:name4:a.rw12:piece lengthi16384e6:pieces20:01234567890123456789e";
        assertThrows(io.cowherd.CorruptFileException.class,
                () -> other.metainfoFrom(goodInfo.getBytes(StandardCharsets.ISO_8859_1)));
    }
}
