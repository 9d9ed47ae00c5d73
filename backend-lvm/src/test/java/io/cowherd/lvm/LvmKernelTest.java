package io.cowherd.lvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.testkit.kernel.InKernel;
import io.cowherd.Fill;
import io.cowherd.FillListener;
import io.cowherd.FillPolicy;
import io.cowherd.ImagePolicy;
import io.cowherd.MasterInUseException;
import io.cowherd.OutOfSpaceException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LVM behaviour beyond the contract kit, in a real kernel: fill levels, warnings and extension,
 * space checks, reboot survival, protection of thin bases, merging, qcow2 masters.
 */
@InKernel
class LvmKernelTest {
    private static final int SIZE = 8 << 20;
    static LvmTestbed bed;
    static Path bedDir;
    @TempDir
    Path tmp;
    private final List<String> vgs = new ArrayList<>();

    @BeforeAll
    static void makePvs() throws IOException {
        bedDir = Files.createTempDirectory("lvm-kernel");
        bed = new LvmTestbed(bedDir, 256);
    }

    @AfterAll
    static void dropPvs() throws IOException {
        bed.close();
        try (var s = Files.list(bedDir)) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(bedDir);
    }

    @AfterEach
    void removeVgs() throws IOException {
        for (String vg : vgs) {
            LvmTestbed.removeVg(vg);
        }
    }

    private LvmPool classic(LvmSettings settings) {
        String vg = bed.newVg();
        vgs.add(vg);
        return new LvmBackend().openPool(Path.of("/dev", vg), settings);
    }

    private LvmPool thin(int mib) {
        Path loc = bed.newThinPool(mib);
        vgs.add(loc.getName(1).toString());
        return new LvmBackend().openPool(loc);
    }

    private byte[] content(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    private Path raw(byte[] b) throws IOException {
        Path p = tmp.resolve("m.raw");
        Files.write(p, b);
        return p;
    }

    private static byte[] read(LvmPool pool, String name) throws IOException {
        try (VirtualDisk d = pool.open(name, false)) {
            ByteBuffer b = ByteBuffer.allocate((int) d.size());
            d.readFully(b, 0);
            return b.array();
        }
    }

    private static void write(LvmPool pool, String name, byte[] data, long at) throws IOException {
        try (VirtualDisk d = pool.open(name, true)) {
            d.write(ByteBuffer.wrap(data), at);
            d.flush();
        }
    }

    @Test
    void classicFillIsWatchedWarnedAndExtended() throws IOException {
        LvmPool pool = classic(LvmSettings.defaults().withCowPercent(25));
        byte[] m = content(SIZE, 1);
        pool.importMaster("m", raw(m), "raw");
        pool.createClone("m", "c");
        Fill before = pool.usage().get(0);
        assertEquals(Fill.Kind.SNAPSHOT_COW, before.kind());
        assertEquals(2L << 20, before.size(), "25% of 8 MiB, in 1 MiB extents");
        // 1.5 MiB into a 2 MiB COW area: about 75% full.
        byte[] w = content(3 << 19, 2);
        write(pool, "c", w, 0);
        double filled = pool.usage().get(0).percent();
        assertTrue(filled > 70 && filled < 100, "fill " + filled);
        List<String> events = new ArrayList<>();
        pool.checkFill(new FillPolicy(60, 70, 50), new FillListener() {
            @Override
            public void warning(Fill fill, int threshold) {
                events.add("warn " + fill.volume() + " " + threshold);
            }

            @Override
            public void extended(Fill fill, long newSize) {
                events.add("extended " + fill.volume() + " " + newSize);
            }
        });
        assertEquals(List.of("warn c 60", "extended c " + (3L << 20)), events);
        Fill after = pool.usage().get(0);
        assertEquals(3L << 20, after.size());
        assertTrue(after.percent() < filled, "extension lowers the fill: " + after.percent());
        byte[] expect = m.clone();
        System.arraycopy(w, 0, expect, 0, w.length);
        assertArrayEquals(expect, read(pool, "c"), "the clone's data survives the extension");
        assertArrayEquals(m, read(pool, "m"));
    }

    @Test
    void anOverflowedClassicCloneIsAClearErrorAndTheMasterSurvives() throws IOException {
        LvmPool pool = classic(LvmSettings.defaults().withCowPercent(10));
        byte[] m = content(SIZE, 3);
        pool.importMaster("m", raw(m), "raw");
        pool.createClone("m", "c");
        assertThrows(IOException.class, () -> write(pool, "c", content(4 << 20, 4), 0));
        Fill lost = pool.usage().get(0);
        assertTrue(lost.lost(), "an overflowed classic snapshot is reported lost: " + lost);
        List<Fill> told = new ArrayList<>();
        pool.checkFill(FillPolicy.defaults(), new FillListener() {
            @Override
            public void warning(Fill fill, int threshold) {
                told.add(null); // a lost snapshot is no warning
            }

            @Override
            public void lost(Fill fill) {
                told.add(fill);
            }
        });
        assertEquals(List.of("c"), told.stream().map(Fill::volume).toList());
        // After a "reboot" it is still lost: activation does not count it.
        pool.deactivate();
        assertEquals(List.of(), pool.activate());
        assertTrue(pool.usage().get(0).lost());
        OutOfSpaceException e = assertThrows(OutOfSpaceException.class, () -> pool.open("c", false));
        assertTrue(e.getMessage().contains("overflowed"), e.getMessage());
        assertArrayEquals(m, read(pool, "m"));
        pool.delete("c");
        pool.delete("m");
    }

    @Test
    void cloningThatWouldNotFitIsRefusedAndLeavesNothing() throws IOException {
        LvmPool pool = classic(LvmSettings.defaults().withCowPercent(100));
        pool.importMaster("m", raw(content(SIZE, 5)), "raw");
        // 2 x 256 MiB PVs: about 500 MiB free; 100 clones of 8 MiB COW do not fit.
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            names.add("c" + i);
        }
        OutOfSpaceException e = assertThrows(OutOfSpaceException.class, () -> pool.createClones("m", names));
        assertTrue(e.getMessage().contains("vgextend"), e.getMessage());
        assertEquals(List.of("m"), pool.volumes().stream().map(Volume::name).toList());
    }

    @Test
    void aFullThinPoolRefusesClonesAndIsExtended() throws IOException {
        LvmPool pool = thin(16);
        pool.importMaster("m", raw(content(SIZE, 6)), "raw");
        pool.createClone("m", "c");
        write(pool, "c", content(15 << 19, 7), 0); // 8 + 7.5 of 16 MiB: past the 95% limit
        Fill data = pool.usage().get(0);
        assertEquals(Fill.Kind.THIN_DATA, data.kind());
        assertTrue(data.percent() >= 90, "data " + data.percent());
        assertThrows(OutOfSpaceException.class, () -> pool.createClone("m", "d"));
        List<Fill> warned = new ArrayList<>();
        List<Long> grown = new ArrayList<>();
        pool.checkFill(new FillPolicy(80, 85, 100), new FillListener() {
            @Override
            public void warning(Fill fill, int threshold) {
                warned.add(fill);
            }

            @Override
            public void extended(Fill fill, long newSize) {
                grown.add(newSize);
            }
        });
        assertEquals(Fill.Kind.THIN_DATA, warned.get(0).kind());
        assertEquals(List.of(32L << 20), grown);
        assertTrue(pool.usage().get(0).percent() < 50);
        pool.createClone("m", "d");
        assertEquals(List.of("c", "d"), pool.clonesOf("m").stream().map(Volume::name).toList());
    }

    /** Imports into a thin pool leave zeros out, but only where the pool zeroes new blocks. */
    @Test
    void thinImportsLeaveZerosOutOnlyWhereThePoolZeroesNewBlocks() throws IOException {
        byte[] sparse = new byte[SIZE]; // 4 KiB of data, written zeros all around
        System.arraycopy(content(4096, 20), 0, sparse, (1 << 20) + 8192, 4096);
        byte[] everyChunk = new byte[SIZE]; // 4 KiB of data 8 KiB into every 64 KiB chunk
        for (int at = 0; at < SIZE; at += 65536) {
            System.arraycopy(content(4096, at), 0, everyChunk, at + 8192, 4096);
        }
        LvmPool zeroing = thin(64);
        zeroing.importMaster("s", raw(sparse), "raw");
        assertArrayEquals(sparse, read(zeroing, "s"));
        Lvm.Lv s = Lvm.lvs(zeroing.volumeGroup()).stream().filter(l -> l.name().equals("s")).findFirst().orElseThrow();
        assertTrue(s.dataPercent() < 5, "zeros were written into the thin master: " + s.dataPercent());

        String vg = zeroing.volumeGroup(); // the PVs hold one group: the second pool goes beside the first
        Lvm.run("lvcreate", "-q", "-y", "-T", "-Zn", "-L", "16m", vg + "/tp2");
        LvmPool notZeroing = new LvmBackend().openPool(Path.of("/dev", vg, "tp2"));
        // Old data in the pool: 15 of its 16 MiB written with 0xff by a thin LV, then removed.
        Lvm.run("lvcreate", "-q", "-y", "-n", "junk", "-V", "15m", "-T", vg + "/tp2");
        try (java.nio.channels.FileChannel junk = java.nio.channels.FileChannel.open(Path.of("/dev", vg, "junk"),
                java.nio.file.StandardOpenOption.WRITE)) {
            byte[] ff = new byte[1 << 20];
            java.util.Arrays.fill(ff, (byte) 0xff);
            for (int i = 0; i < 15; i++) {
                junk.write(ByteBuffer.wrap(ff), (long) i << 20);
            }
            junk.force(true);
        }
        Lvm.run("lvremove", "-q", "-y", vg + "/junk");
        notZeroing.importMaster("e", raw(everyChunk), "raw");
        assertArrayEquals(everyChunk, read(notZeroing, "e"), "old data of the pool shows in the master");
    }

    @Test
    void thinBasesAreProtectedEvenFromClonesMadeOutsideCowherd() throws IOException {
        LvmPool pool = thin(64);
        pool.importMaster("m", raw(content(SIZE, 8)), "raw");
        String vg = pool.volumeGroup();
        // A snapshot someone made by hand: LVM itself would let the base be removed under it.
        Lvm.run("lvcreate", "-q", "-y", "-s", "-n", "byhand", "-kn", vg + "/m");
        MasterInUseException e = assertThrows(MasterInUseException.class, () -> pool.delete("m"));
        assertEquals(List.of("byhand"), e.clones());
        assertTrue(pool.volumes().stream().noneMatch(v -> v.name().equals("byhand")), "not ours, not listed");
        Lvm.run("lvremove", "-q", "-y", vg + "/byhand");
        Lvm.Lv m = Lvm.lvs(vg).stream().filter(l -> l.name().equals("m")).findFirst().orElseThrow();
        assertEquals('r', m.attr().charAt(1), "the master LV is read-only in LVM: " + m.attr());
        pool.delete("m");
    }

    /** A classic pool and a thin pool in one volume group (the PVs hold one group at a time). */
    private List<LvmPool> bothKinds() {
        LvmPool thin = thin(64);
        return List.of(new LvmBackend().openPool(Path.of("/dev", thin.volumeGroup())), thin);
    }

    @Test
    void clonesOfBothKindsSurviveAReboot() throws IOException {
        List<LvmPool> pools = bothKinds();
        byte[] m = content(SIZE, 9);
        byte[] w = content(4096, 10);
        for (LvmPool pool : pools) {
            String k = pool.isThin() ? "t" : "k";
            pool.importMaster(k + "m", raw(m), "raw");
            pool.createClones(k + "m", List.of(k + "a", k + "b"));
            write(pool, k + "a", w, 8192);
        }
        pools.forEach(LvmPool::deactivate);
        String vg = pools.get(0).volumeGroup();
        assertEquals(List.of(), LvmTestbed.mapperDevicesOf(vg).stream().filter(d -> !d.startsWith(vg + "-tp")).toList(),
                "every volume's device is gone (only the thin pool's own may stay)");
        for (LvmPool pool : pools) {
            String k = pool.isThin() ? "t" : "k";
            assertEquals(List.of(k + "a", k + "b"), pool.activate(), pool.location().toString());
        }
        for (LvmPool pool : pools) {
            String k = pool.isThin() ? "t" : "k";
            LvmPool again = new LvmBackend().openPool(pool.location());
            assertEquals(List.of(k + "m", k + "a", k + "b"), again.volumes().stream().map(Volume::name).toList(),
                    "each pool sees only its own volumes");
            byte[] expect = m.clone();
            System.arraycopy(w, 0, expect, 8192, w.length);
            assertArrayEquals(expect, read(again, k + "a"), pool.location().toString());
            assertArrayEquals(m, read(again, k + "b"));
            write(again, k + "b", w, 0); // usable, not just readable
        }
    }

    @Test
    void aClassicAndAThinPoolInOneGroupCannotBothHaveGolden() throws IOException {
        List<LvmPool> pools = bothKinds();
        byte[] m = content(SIZE, 14);
        pools.get(0).importMaster("golden", raw(m), "raw");
        io.cowherd.VolumeExistsException e = assertThrows(io.cowherd.VolumeExistsException.class,
                () -> pools.get(1).importMaster("golden", raw(m), "raw"));
        assertTrue(e.getMessage().contains("classic pool /dev/" + pools.get(0).volumeGroup())
                && e.getMessage().contains("golden-tp"), e.getMessage());
        assertEquals(List.of(), pools.get(1).volumes(), "nothing was created in the thin pool");
        pools.get(1).importMaster("golden-tp", raw(m), "raw");
        pools.get(1).createClone("golden-tp", "vm1");
        assertThrows(io.cowherd.VolumeExistsException.class, () -> pools.get(0).createClone("golden", "vm1"));
        assertArrayEquals(m, read(pools.get(1), "vm1"));
        assertTrue(new LvmBackend().recognizes(pools.get(0).location()));
        assertTrue(new LvmBackend().recognizes(pools.get(1).location()));
        assertFalse(new LvmBackend().recognizes(Path.of("/dev/mapper")));
        assertFalse(new LvmBackend().recognizes(Path.of("/dev/null")));
        assertThrows(io.cowherd.NoSuchPoolException.class, () -> new LvmBackend().openPool(Path.of("/dev/nosuchvg")));
        assertFalse(Files.exists(Path.of("/dev/nosuchvg")));
        pools.get(1).delete("vm1");
        pools.get(1).delete("golden-tp");
        pools.get(0).delete("golden");
    }

    @Test
    void theLvmShellAndOwnProcessesAgree() {
        assertTrue(LvmShell.profileInstalled(), "the harness must expose lvm2's lvmdbusd profile, or the shell goes untested");
        assertTrue(Lvm.usingShell(), "the lvm shell started (see the log for why not)");
        LvmPool pool = classic(LvmSettings.defaults());
        String vg = pool.volumeGroup();
        Lvm.run("lvcreate", "-q", "-y", "-Wn", "-Zn", "-n", "dup", "-L", "4m", vg);
        for (String shell : List.of("true", "false")) {
            System.setProperty("cowherd.lvm.shell", shell);
            try {
                io.cowherd.VolumeExistsException e = assertThrows(io.cowherd.VolumeExistsException.class,
                        () -> Lvm.run("lvcreate", "-q", "-y", "-Wn", "-Zn", "-n", "dup", "-L", "4m", vg));
                assertTrue(e.getMessage().contains("already exists"), shell + ": " + e.getMessage());
                LvmCommandException gone = assertThrows(LvmCommandException.class,
                        () -> Lvm.run("lvs", "--reportformat", "json", vg + "/nosuchlv"));
                assertEquals(5, gone.exitCode(), shell + ": " + gone.getMessage());
                assertTrue(gone.getMessage().contains("nosuchlv"), shell + ": " + gone.getMessage());
                assertEquals(List.of("dup"), Lvm.lvs(vg).stream().map(Lvm.Lv::name).toList(), shell);
            } finally {
                System.clearProperty("cowherd.lvm.shell");
            }
        }
    }

    @Test
    void aCloneMergesIntoItsMaster() throws IOException {
        for (LvmPool pool : bothKinds()) {
            String k = pool.isThin() ? "t" : "k";
            byte[] m = content(SIZE, 11);
            pool.importMaster(k + "m", raw(m), "raw");
            pool.createClones(k + "m", List.of(k + "a", k + "b"));
            byte[] w = content(65536, 12);
            write(pool, k + "a", w, 4096);
            assertThrows(MasterInUseException.class, () -> pool.commit(k + "a"));
            pool.delete(k + "b");
            Volume merged = pool.commit(k + "a");
            assertTrue(merged.isMaster());
            byte[] expect = m.clone();
            System.arraycopy(w, 0, expect, 4096, w.length);
            assertArrayEquals(expect, read(pool, k + "m"), pool.location().toString());
            assertEquals(List.of(k + "m"), pool.volumes().stream().map(Volume::name).toList());
            assertThrows(io.cowherd.ReadOnlyVolumeException.class, () -> pool.open(k + "m", true));
        }
    }

    @Test
    void aQcow2MasterIsImportedThroughOurReader() throws IOException {
        ImageFormat q = ImageFormats.byName("qcow2");
        Path img = tmp.resolve("m.qcow2");
        q.create(img, SIZE);
        byte[] data = content(100_000, 13);
        try (VirtualDisk d = q.open(img, ImagePolicy.operator(), true, 0)) {
            d.write(ByteBuffer.wrap(data), 1 << 20);
        }
        LvmPool pool = thin(64);
        pool.importMaster("m", img, "qcow2");
        pool.createClone("m", "c");
        byte[] got = read(pool, "c");
        assertEquals(SIZE, got.length);
        byte[] expect = new byte[SIZE];
        System.arraycopy(data, 0, expect, 1 << 20, data.length);
        assertArrayEquals(expect, got);
        Lvm.Lv m = Lvm.lvs(pool.volumeGroup()).stream().filter(l -> l.name().equals("m")).findFirst().orElseThrow();
        assertTrue(m.dataPercent() < 50, "zeros were not written into the thin master: " + m.dataPercent());
        assertFalse(pool.info("c").chain().isEmpty());
        assertEquals(List.of("cowherd.master=m", "cowherd.pool=thin:tp", "cowherd.role=clone"),
                Lvm.lvs(pool.volumeGroup()).stream().filter(l -> l.name().equals("c")).findFirst().orElseThrow()
                        .tags().stream().filter(t -> !t.startsWith("cowherd.s")).sorted().collect(Collectors.toList()));
    }
}
