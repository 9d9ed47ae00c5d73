package io.cowherd.distribution.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cowherd.UnsupportedFeatureException;
import io.cowherd.distribution.bundle.BootProfile;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.nbd.NbdTestFiles;
import io.cowherd.distribution.nbd.NbdTestFiles.Run;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.OpenResources;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.SwarmFixture;
import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentEngines;
import io.cowherd.distribution.torrent.TorrentSession;
import io.cowherd.distribution.torrent.seeder.InitialSeeder;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A master read while it arrives, by the real peers: QEMU's NBD client ({@code qemu-io},
 * {@code qemu-img}, a qcow2 overlay whose backing file is the export) and {@code nbdinfo}, against
 * a libtorrent fetch from a seed that sends at 2 MiB/s.
 */
@Timeout(180)
class MasterStreamQemuTest {
    private static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    private EmbeddedTracker tracker;
    private final TorrentEngine engine = TorrentEngines.named("libtorrent");

    @BeforeEach
    void tools() throws Exception {
        for (String tool : List.of("qemu-img", "qemu-io", "nbdinfo")) {
            assumeTrue(NbdTestFiles.has(tool), tool + " is not installed (scripts/install-test-peers.sh)");
        }
        tracker = open.keep(EmbeddedTracker.start(SwarmFixture.trackerAddress()));
    }

    /** A torrent of {@code content} (256 KiB pieces) on the test's tracker. */
    private Metainfo tracked(Path content) {
        Metainfo m = Metainfo.create(content, List.of(tracker.announceUrl()), 256 << 10, "test");
        tracker.track(m);
        return m;
    }

    private static Run run(String... command) throws Exception {
        return NbdTestFiles.run(command);
    }

    private static void ok(Run r) {
        assertEquals(0, r.exit(), r.output());
    }

    /** A bundle: a 64 MiB qcow2 disk holding 24 MiB of patterns (0x11 at 0, 0x22 at 20M, 0x33 at 56M), and domain XML. */
    private Path bundle() throws Exception {
        Path disk = tmp.resolve("src/disk.qcow2");
        Files.createDirectories(disk.getParent());
        ok(run("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), "64M"));
        ok(run("qemu-io", "-f", "qcow2", disk.toString(), "-c", "write -q -P 0x11 0 8M", "-c", "write -q -P 0x22 20M 8M",
                "-c", "write -q -P 0x33 56M 8M"));
        Path xml = Files.writeString(tmp.resolve("src/domain.xml"), "<domain type='kvm'><name>golden</name></domain>");
        return Bundle.builder().disk(disk, "qcow2").domainXml(xml).create(tmp.resolve("seed/golden")).directory();
    }

    private TorrentSession seedAndFetch(Metainfo m, Path seedParent) {
        tracker.track(m);
        open.keep(engine.seed(m, seedParent, SessionOptions.on(SwarmFixture.host()).withRateLimits(0, 2L << 20)));
        return open.keep(engine.fetch(m, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())));
    }

    @Test
    void qemuReadsAndClonesTheStreamingDiskBeforeTheFetchEndsAndAllOfItAfter() throws Exception {
        Path golden = bundle();
        Metainfo m = Metainfo.create(golden, List.of(tracker.announceUrl()), 256 << 10, "test");
        TorrentSession fetch = seedAndFetch(m, golden.getParent());
        MasterStream stream = open.keep(MasterStream.serve(fetch, tmp.resolve("out"), tmp.resolve("golden.sock"),
                MasterStream.DEFAULT_READ_TIMEOUT));
        assertEquals(1, stream.disks().size(), "the bundle's one disk is exported, not its manifest or XML");
        StreamedDisk disk = stream.disks().get(0);
        assertEquals("disk.qcow2", disk.export());
        assertEquals("qcow2", disk.format());
        assertEquals(64L << 20, disk.virtualSize());
        assertEquals(Files.size(golden.resolve("disk.qcow2")), disk.size());

        Run list = run("nbdinfo", "--list", "nbd+unix:///?socket=" + stream.socket());
        ok(list);
        assertTrue(list.output().contains("disk.qcow2") && list.output().contains("disk of bundle golden (qcow2, streaming)"),
                list.output());

        // the end of the disk first: qemu-io checks every byte against the pattern
        ok(run("qemu-io", "-r", "-f", "qcow2", disk.uri(), "-c", "read -q -P 0x33 60M 4M"));
        assertFalse(fetch.progress().complete(), "read before the fetch ended: " + fetch.progress());

        // a clone: a qcow2 overlay backed by the export reads through it and writes into itself
        Path clone = tmp.resolve("clone.qcow2");
        ok(run("qemu-img", "create", "-q", "-f", "qcow2", "-b", disk.uri(), "-F", "qcow2", clone.toString()));
        ok(run("qemu-io", "-f", "qcow2", clone.toString(), "-c", "read -q -P 0x22 20M 1M", "-c", "write -q -P 0x55 0 64k",
                "-c", "read -q -P 0x55 0 64k", "-c", "read -q -P 0x11 64k 1M"));
        assertFalse(fetch.progress().complete(), "the clone read before the fetch ended: " + fetch.progress());

        // every byte, waiting for what has not arrived yet, then again from the finished files
        ok(run("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "qcow2", disk.uri(), golden.resolve("disk.qcow2").toString()));
        fetch.awaitCompletion(WAIT);
        ok(run("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "qcow2", disk.uri(), golden.resolve("disk.qcow2").toString()));
        Bundle.open(tmp.resolve("out/golden")).verify();
        ok(run("qemu-io", "-r", "-f", "qcow2", clone.toString(), "-c", "read -q -P 0x55 0 64k", "-c", "read -q -P 0x33 56M 8M"));
    }

    @Test
    void aReadOfAPieceNoSourceHasFailsWithAnIoErrorAfterTheTimeoutAndVerifiedRangesStillRead() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/golden.raw"), 16L << 20, 12);
        Metainfo m = tracked(data);
        TorrentSession seed = engine.seed(m, data.getParent(), SessionOptions.on(SwarmFixture.host()).withRateLimits(0, 1L << 20));
        TorrentSession fetch = open.keep(engine.fetch(m, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())));
        MasterStream stream = open.keep(MasterStream.serve(fetch, tmp.resolve("out"), tmp.resolve("raw.sock"), Duration.ofSeconds(3)));
        StreamedDisk disk = stream.disks().get(0);
        assertEquals("golden.raw", disk.export(), "a torrent that is not a bundle: its file");
        assertEquals(null, disk.format());
        // the first piece before the seed goes (the 3 s timeout is for what follows, not for finding the seed)
        fetch.fetchFirst(List.of(0));
        assertTrue(fetch.awaitPiece(0, WAIT));
        ok(run("qemu-io", "-r", "-f", "raw", disk.uri(), "-c", "read -q 0 256k"));
        seed.close(); // the only source
        int missing = -1;
        for (int p = m.pieceCount() - 1; p >= 0 && missing < 0; p--) {
            if (!fetch.havePiece(p)) {
                missing = p;
            }
        }
        assertTrue(missing >= 0, "the fetch lacks a piece: " + fetch.progress());
        assertTrue(stream.missingPieces().get(missing) && !stream.missingPieces().get(0), "the stream names what is missing");
        long t0 = System.nanoTime();
        Run r = run("qemu-io", "-r", "-f", "raw", disk.uri(), "-c", "read " + (long) missing * m.pieceLength() + " 4k");
        double secs = (System.nanoTime() - t0) / 1e9;
        assertTrue(r.output().contains("Input/output error"), r.output());
        assertTrue(secs >= 2.9, "the read waited for the piece first: " + secs + " s");
        // the export serves on: what arrived still reads byte for byte
        Path copy = tmp.resolve("first.raw");
        ok(run("qemu-img", "dd", "-f", "raw", "-O", "raw", "if=" + disk.uri(), "of=" + copy, "bs=256k", "count=1"));
        byte[] expected = java.util.Arrays.copyOf(Files.readAllBytes(data), 256 << 10);
        assertTrue(java.util.Arrays.equals(expected, Files.readAllBytes(copy)), "the first piece as the seed had it");
    }

    /**
     * A stream records the reads QEMU makes, in order; a bundle that carries them as its boot profile
     * has their pieces fetched first as soon as its stream starts, with no reader yet: from a seed
     * sending 16 MiB (64 pieces) at 2 MiB/s, at most 12 other pieces arrive before all of them.
     */
    @Test
    void aStreamRecordsItsReadsAndABundleWithThatProfileFetchesTheirPiecesFirst() throws Exception {
        Path disk = SwarmFixture.randomFile(tmp.resolve("src/disk.raw"), 16L << 20, 14);
        Path plain = Bundle.builder().disk(disk, "raw").create(tmp.resolve("seed1/golden")).directory();
        Metainfo m1 = tracked(plain);
        open.keep(engine.seed(m1, plain.getParent(), SessionOptions.on(SwarmFixture.host()).withRateLimits(0, 2L << 20)));
        TorrentSession first = open.keep(engine.fetch(m1, tmp.resolve("out1"), SessionOptions.on(SwarmFixture.host())));
        MasterStream recording = open.keep(MasterStream.serve(first, tmp.resolve("out1"), tmp.resolve("rec.sock"),
                MasterStream.DEFAULT_READ_TIMEOUT, true));
        ok(run("qemu-io", "-r", "-f", "raw", recording.disks().get(0).uri(), "-c", "read -q 15M 64k", "-c", "read -q 4k 4k",
                "-c", "read -q 8M 1M", "-c", "read -q 2M 2M", "-c", "read -q 12M 1M", "-c", "read -q 5M 512k"));
        BootProfile profile = recording.recordedProfile();
        List<BootProfile.Read> expected = List.of(new BootProfile.Read("disk.raw", 15L << 20, 64 << 10),
                new BootProfile.Read("disk.raw", 4096, 4096), new BootProfile.Read("disk.raw", 8L << 20, 1 << 20),
                new BootProfile.Read("disk.raw", 2L << 20, 2 << 20), new BootProfile.Read("disk.raw", 12L << 20, 1 << 20),
                new BootProfile.Read("disk.raw", 5L << 20, 512 << 10));
        assertEquals(expected, profile.reads().stream().filter(expected::contains).toList(),
                "QEMU's reads recorded in order: " + profile.reads());
        recording.close();

        Path profileFile = tmp.resolve("boot-profile");
        profile.save(profileFile);
        Path golden = Bundle.builder().disk(disk, "raw").bootProfile(profileFile).create(tmp.resolve("seed2/golden")).directory();
        Metainfo m = Metainfo.create(golden, List.of(tracker.announceUrl()), 256 << 10, "test");
        TorrentSession fetch = seedAndFetch(m, golden.getParent());
        Metainfo.FileEntry diskEntry = m.files().stream().filter(f -> f.path().equals(List.of("disk.raw"))).findFirst().orElseThrow();
        java.util.Set<Integer> pieces = new java.util.TreeSet<>();
        for (BootProfile.Read r : profile.reads()) {
            long from = diskEntry.offset() + r.offset();
            for (long p = from / m.pieceLength(); p <= (from + r.length() - 1) / m.pieceLength(); p++) {
                pieces.add((int) p);
            }
        }
        // serve returns once it asked for the profile's pieces (libtorrent then cancels the requests
        // it had sent for other pieces): from then on, only blocks already on their way may arrive
        // ahead of the profile. Before it, the fetch took pieces in the swarm's order while it
        // fetched the manifest and the profile: how many depends on the machine's load, not on us.
        MasterStream stream = open.keep(MasterStream.serve(fetch, tmp.resolve("out"), tmp.resolve("golden.sock"),
                MasterStream.DEFAULT_READ_TIMEOUT));
        int doneBefore = fetch.progress().piecesDone();
        long profileHeldBefore = pieces.stream().filter(fetch::havePiece).count();
        long until = System.nanoTime() + WAIT.toNanos();
        while (!pieces.stream().allMatch(fetch::havePiece) && System.nanoTime() < until) {
            Thread.sleep(5);
        }
        assertTrue(pieces.stream().allMatch(fetch::havePiece), "the profile's pieces " + pieces + " arrived");
        long othersBefore = doneBefore - profileHeldBefore;
        long othersAfter = fetch.progress().piecesDone() - pieces.size() - othersBefore;
        System.err.println("profile " + pieces.size() + " pieces (" + profileHeldBefore + " held when asked for); others: "
                + othersBefore + " before, " + othersAfter + " after");
        // in the swarm's own order the profile's pieces would come last among the rest: about 30 others
        assertTrue(othersAfter <= 10, "once asked for, the profile's " + pieces.size() + " pieces came first: " + othersAfter
                + " other pieces arrived meanwhile (" + othersBefore + " before)");
        // and verified as they arrived, with no reader: a boot's reads of them need no hash and no hand-off
        StreamedFileSource source = stream.source("disk.raw");
        until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!pieces.stream().allMatch(source::isVerified) && System.nanoTime() < until) {
            Thread.sleep(5);
        }
        assertEquals(List.of(), pieces.stream().filter(p -> !source.isVerified(p)).toList(),
                "the profile's pieces not verified ahead of the reads");
        fetch.awaitCompletion(WAIT);
        Bundle.open(tmp.resolve("out/golden")).verify();
    }

    /**
     * Issue 17, item 5: three hosts stream one master and boot a clone each on their exports; after
     * the boots, once the hosts hold every piece between them but none holds all, the seed goes. The
     * hosts finish from each other, byte-identical, and the clones read the source's bytes.
     *
     * <p>The rates bound the moment, so it is no race: an initial seed (the boot profile first) sends
     * every piece once before any twice, and fast enough for all that the hosts take in; each host
     * takes in at most 1 MiB/s and sends at most 256 KiB/s, so at least half of what it takes in is
     * new: the three hold the 16 MiB between them after at most 16 / (3 x 0.5) = 10.7 s, while none
     * can hold all of it before 16 s.
     */
    @Test
    void theSeedGoesAfterTheBootsAndTheHostsFinishFromEachOther() throws Exception {
        Path disk = SwarmFixture.randomFile(tmp.resolve("src/disk.raw"), 16L << 20, 15);
        String[] bootSet = {"read -q 0 256k", "read -q 9M 256k", "read -q 15M 256k"};
        Path profile = tmp.resolve("src/boot-profile");
        new BootProfile(List.of(new BootProfile.Read("disk.raw", 0, 256 << 10), new BootProfile.Read("disk.raw", 9L << 20, 256 << 10),
                new BootProfile.Read("disk.raw", 15L << 20, 256 << 10))).save(profile);
        Bundle bundle = Bundle.builder().disk(disk, "raw").bootProfile(profile).create(tmp.resolve("seed/golden"));
        Metainfo m = tracked(bundle.directory());
        TorrentSession seed = open.keep(InitialSeeder.start(m, bundle.directory().getParent(),
                SessionOptions.on(SwarmFixture.host()).withRateLimits(0, 8L << 20), ProfilePieces.ofBundle(bundle, m)));
        List<TorrentSession> hosts = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            hosts.add(open.keep(engine.fetch(m, tmp.resolve("host" + i),
                    SessionOptions.on(SwarmFixture.host()).withRateLimits(1L << 20, 256 << 10).withSeedAfter(true))));
        }
        List<java.util.concurrent.CompletableFuture<Run>> boots = new java.util.ArrayList<>();
        List<Path> clones = new java.util.ArrayList<>();
        for (int i = 0; i < hosts.size(); i++) {
            MasterStream stream = open.keep(MasterStream.serve(hosts.get(i), tmp.resolve("host" + i), tmp.resolve("h" + i + ".sock"),
                    MasterStream.DEFAULT_READ_TIMEOUT));
            Path clone = tmp.resolve("clone" + i + ".qcow2");
            ok(run("qemu-img", "create", "-q", "-f", "qcow2", "-b", stream.disks().get(0).uri(), "-F", "raw", clone.toString()));
            // the boot: the clone reads its boot set through the export, the host still fetching
            boots.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return run("qemu-io", "-r", "-f", "qcow2", clone.toString(), "-c", bootSet[0], "-c", bootSet[1], "-c", bootSet[2]);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
            clones.add(clone);
        }
        for (var boot : boots) {
            ok(boot.get());
        }
        long until = System.nanoTime() + WAIT.toNanos();
        while (!heldBetween(hosts, m.pieceCount()) && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertTrue(heldBetween(hosts, m.pieceCount()), "the hosts came to hold every piece between them");
        for (TorrentSession h : hosts) {
            assertFalse(h.progress().complete(), "no host had every piece when the seed went: " + h.progress());
        }
        System.err.println("the seed goes; the hosts hold " + hosts.stream().map(h -> h.progress().piecesDone()).toList()
                + " of " + m.pieceCount() + " pieces");
        seed.close();
        for (int i = 0; i < hosts.size(); i++) {
            hosts.get(i).awaitCompletion(WAIT);
            Bundle.open(tmp.resolve("host" + i + "/golden")).verify();
            ok(run("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", clones.get(i).toString(), disk.toString()));
        }
    }

    /** Whether every piece is verified on at least one of {@code hosts}. */
    private static boolean heldBetween(List<TorrentSession> hosts, int pieces) {
        for (int p = 0; p < pieces; p++) {
            int piece = p;
            if (hosts.stream().noneMatch(h -> h.havePiece(piece))) {
                return false;
            }
        }
        return true;
    }

    @Test
    void anEngineThatCannotStreamIsRefusedBeforeAnythingListens() throws Exception {
        TorrentEngine ttorrent = TorrentEngines.named("ttorrent");
        Path data = SwarmFixture.randomFile(tmp.resolve("seed/golden.raw"), 1L << 20, 13);
        Metainfo m = tracked(data);
        TorrentSession fetch = open.keep(ttorrent.fetch(m, tmp.resolve("out"), SessionOptions.on(SwarmFixture.host())));
        UnsupportedFeatureException e = assertThrows(UnsupportedFeatureException.class,
                () -> MasterStream.serve(fetch, tmp.resolve("out"), tmp.resolve("t.sock"), Duration.ofSeconds(3)));
        assertTrue(e.getMessage().contains("STREAMING") && e.getMessage().contains("libtorrent"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("t.sock")), "no socket was created");
        assertNotEquals(null, fetch.metainfo());
    }
}
