package io.cowherd.qcow2;

import static io.cowherd.testkit.PeerTool.ok;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.CorruptImageException;
import io.cowherd.ImagePolicy;
import io.cowherd.Images;
import io.cowherd.MasterInUseException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.Pool;
import io.cowherd.Pools;
import io.cowherd.UnsafeBackingException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A streaming master in a qcow2 pool, against QEMU: {@code qemu-nbd} serves the master on one of
 * the pool's stream sockets, QEMU's own reader and cowherd's read its clones byte for byte, the
 * image policy follows exactly the pool's own sockets, and the switch to the local file and the
 * record of a moved clone check what they are given.
 */
class StreamingMasterQemuTest {
    private static final int SIZE = 3 * 1024 * 1024 + 4096;

    @TempDir
    Path dir;
    private Pool pool;
    private Process server;
    private byte[] master;
    private Path local;
    private Path socket;

    private void serve() throws Exception {
        pool = Pools.openOrCreate(dir.resolve("pool"), "qcow2", "qcow2");
        Files.createDirectories(pool.streamSockets());
        master = new byte[SIZE];
        new Random(17).nextBytes(master);
        local = Files.write(pool.streamSockets().resolve("golden.raw"), master);
        socket = pool.streamSockets().resolve("golden.sock");
        server = new ProcessBuilder("qemu-nbd", "-r", "-t", "-f", "raw", "-x", "disk", "-k", socket.toString(),
                local.toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        for (int i = 0; i < 400 && !Files.exists(socket); i++) {
            Thread.sleep(25);
        }
        assertTrue(Files.exists(socket), "qemu-nbd listens");
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.destroy();
            server.waitFor();
        }
        if (pool != null) {
            pool.close();
        }
    }

    private byte[] ours(String volume) throws IOException {
        try (VirtualDisk d = pool.open(volume, false)) {
            ByteBuffer b = ByteBuffer.allocate((int) d.size());
            d.readFully(b, 0);
            return b.array();
        }
    }

    @Test
    void clonesOfAStreamingMasterReadItsBytesThroughQemuAndCowherd() throws Exception {
        serve();
        Volume m = pool.addStreamingMaster("golden", socket, "disk");
        assertTrue(m.isMaster());
        List<Volume> clones = pool.createClones("golden", List.of("c1", "c2"));
        assertEquals("nbd+unix:///disk?socket=" + socket, pool.info("golden").backingFilename());
        assertEquals(SIZE, pool.info("c1").virtualSize());
        assertArrayEquals(master, ours("c1"));
        // QEMU follows the same chain: clone, stand-in, export
        ok("qemu-img", "compare", "-f", "qcow2", "-F", "raw", clones.get(0).path().toString(), local.toString());
        ok("qemu-io", "-f", "qcow2", clones.get(1).path().toString(), "-c", "write -q -P 0x5a 4096 8192");
        ok("qemu-img", "check", "-f", "qcow2", clones.get(1).path().toString());
        byte[] written = ours("c2");
        assertEquals(0x5a, written[4096] & 0xff);
        assertArrayEquals(master, ours("c1"), "a sibling's write stays its own");
        assertThrows(MasterInUseException.class, () -> pool.delete("golden"));
        assertThrows(UnsupportedFeatureException.class,
                () -> Images.rebase(m.path(), new Qcow2Format(), local, "raw", true, ImagePolicy.operator()),
                "the stand-in belongs to the pool: no rebase behind its back");

        // the download completes: the stand-in reads the local file, the server goes
        assertThrows(CorruptImageException.class, () -> pool.completeStream("golden",
                Files.write(pool.streamSockets().resolve("short.raw"), new byte[4096])), "a file of another size");
        assertThrows(UnsupportedFeatureException.class, () -> pool.completeStream("c1", local), "not a master");
        pool.completeStream("golden", local);
        server.destroy();
        server.waitFor();
        assertEquals(".streams/golden.raw", pool.info("golden").backingFilename());
        assertArrayEquals(master, ours("c1"));
        ok("qemu-img", "compare", "-f", "qcow2", "-F", "raw", clones.get(0).path().toString(), local.toString());
        pool.completeStream("golden", local); // again: nothing to do
        assertThrows(UnsupportedFeatureException.class, () -> pool.completeStream("golden",
                pool.streamSockets().resolve("short.raw")), "switched already, to another file");
    }

    @Test
    void onlyThePoolsOwnStreamSocketsAreFollowed() throws Exception {
        serve();
        Path elsewhere = dir.resolve("other.sock");
        Files.createSymbolicLink(elsewhere, socket);
        List<String> before = listing();
        assertThrows(UnsafeBackingException.class, () -> pool.addStreamingMaster("m", elsewhere, "disk"));
        assertThrows(UnsafeBackingException.class,
                () -> pool.addStreamingMaster("m", pool.streamSockets().resolve("sub/../../x.sock"), "disk"));
        assertThrows(NoSuchVolumeException.class,
                () -> pool.addStreamingMaster("m", pool.streamSockets().resolve("nobody.sock"), "disk"));
        assertThrows(NoSuchVolumeException.class, () -> pool.addStreamingMaster("m", socket, "no-such-export"));
        assertEquals(before, listing(), "refusals leave nothing behind");
        assertTrue(pool.find("m").isEmpty());

        // images made by hand with other NBD or protocol backings: the pool's policy refuses them all
        Path poolDir = pool.location();
        for (String bad : List.of("nbd+unix:///disk?socket=" + elsewhere, "nbd+unix:///disk?socket=" + socket + "&x=1",
                "nbd://localhost/disk", "nbd+unix:///disk?socket=" + pool.streamSockets() + "/../.streams/golden.sock",
                "json:{\"file.driver\":\"nbd\",\"file.path\":\"" + socket + "\"}")) {
            Path img = poolDir.resolve("hand.qcow2");
            Files.deleteIfExists(img);
            ok("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", bad, "-F", "raw", img.toString(), SIZE + "");
            assertThrows(UnsafeBackingException.class, () -> new Qcow2Format().info(img,
                    ImagePolicy.confinedTo(poolDir).allowingStreamsFrom(pool.streamSockets()), 0), bad);
            Files.delete(img);
        }
        // the operator's policy follows no export at all, but for a file its pool records (cowherd info FILE)
        Path stand = pool.addStreamingMaster("m", socket, "disk").path();
        assertThrows(UnsafeBackingException.class, () -> new Qcow2Format().info(stand, ImagePolicy.operator(), 0));
        assertEquals(SIZE, new Qcow2Format().info(stand, Pools.operatorPolicyFor(stand), 0).backing().virtualSize());
        Path copy = Files.copy(stand, dir.resolve("copy.qcow2"));
        assertThrows(UnsafeBackingException.class, () -> new Qcow2Format().info(copy, Pools.operatorPolicyFor(copy), 0),
                "a copy outside the pool is no longer the pool's");
    }

    @Test
    void aMovedCloneIsRecordedOnlyWhenItBacksOntoItsMaster() throws Exception {
        serve();
        pool.addStreamingMaster("golden", socket, "disk");
        Volume c = pool.createClone("golden", "c");
        ok("qemu-io", "-f", "qcow2", c.path().toString(), "-c", "write -q -P 0x33 0 4096");
        Path stray = pool.location().resolve("c.other.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", local.toString(), "-F", "raw", stray.toString());
        assertThrows(UnsafeBackingException.class, () -> pool.movedClone("c", stray), "backs onto another file");
        Path outside = dir.resolve("c.local.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", pool.get("golden").path().toString(), "-F", "qcow2",
                outside.toString());
        assertThrows(UnsafeBackingException.class, () -> pool.movedClone("c", outside), "outside the pool");
        assertEquals(c.path(), pool.get("c").path());

        // what a live move leaves: a new top in the pool, backed by the stand-in, holding the clone's writes
        Path moved = pool.location().resolve("c.local.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "golden.qcow2", "-F", "qcow2", moved.toString());
        ok("qemu-img", "rebase", "-q", "-f", "qcow2", "-u", "-b", "golden.qcow2", "-F", "qcow2", moved.toString());
        ok("qemu-io", "-f", "qcow2", moved.toString(), "-c", "write -q -P 0x33 0 4096");
        Volume after = pool.movedClone("c", moved);
        assertEquals(moved, after.path());
        assertFalse(Files.exists(c.path()), "the old top is gone");
        assertEquals(moved, Pools.open(pool.location()).get("c").path(), "the record says so after reopening");
        assertEquals(0x33, ours("c")[0] & 0xff);
        assertThrows(MasterInUseException.class, () -> pool.delete("golden"));
        pool.delete("c");
        assertFalse(Files.exists(moved));
        pool.delete("golden");
    }

    private List<String> listing() throws IOException {
        try (var s = Files.walk(pool.location())) {
            return s.map(p -> pool.location().relativize(p).toString()).filter(n -> !n.startsWith(".cowherd")).sorted()
                    .toList();
        }
    }
}
