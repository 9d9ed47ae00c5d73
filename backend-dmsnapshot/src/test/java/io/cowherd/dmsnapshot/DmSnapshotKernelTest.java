package io.cowherd.dmsnapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.testkit.kernel.InKernel;
import io.cowherd.CowException;
import io.cowherd.Fill;
import io.cowherd.FillListener;
import io.cowherd.FillPolicy;
import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.domain.ClonedDomain;
import io.cowherd.domain.DomainCloneOptions;
import io.cowherd.domain.DomainCloner;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.FileDisk;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/** What the dm-snapshot backend does beyond the contract kit, in a real kernel. */
@InKernel
class DmSnapshotKernelTest {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path tmp;
    Path dir;
    DmSnapshotPool pool;
    byte[] master;

    @BeforeEach
    void setUp(TestInfo test) throws IOException {
        dir = tmp.resolve("pool");
        master = bytes(SIZE, 1);
        // Tests of growth and overflow start clones with a tiny store (11 chunks); the others with 10%.
        String m = test.getTestMethod().orElseThrow().getName();
        int percent = m.contains("Overflow") || m.contains("Watch") ? 1 : 10;
        pool = new DmSnapshotBackend().openPool(dir, PoolSettings.defaults().withCowPercent(percent));
        Path raw = tmp.resolve("m.img");
        Files.write(raw, master);
        pool.importMaster("m", raw, "raw");
    }

    @AfterEach
    void nothingLeaks() {
        pool.close();
        KernelLeaks.tearDownAndCheck(pool, tmp);
    }

    static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    byte[] read(String name) throws IOException {
        try (VirtualDisk d = pool.open(name, false)) {
            ByteBuffer b = ByteBuffer.allocate((int) d.size());
            d.readFully(b, 0);
            return b.array();
        }
    }

    /** Writes {@code data} at {@code at} into clone {@code name} and flushes it; returns the expected content. */
    byte[] write(String name, byte[] before, byte[] data, long at) throws IOException {
        try (VirtualDisk d = pool.open(name, true)) {
            d.write(ByteBuffer.wrap(data), at);
            d.flush();
        }
        byte[] after = before.clone();
        System.arraycopy(data, 0, after, (int) at, data.length);
        return after;
    }

    @Test
    void rebootSurvivalTearDownEverythingAndActivateFromThePool() throws IOException {
        pool.createClones("m", List.of("r1", "r2", "r3"));
        List<byte[]> expected = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            expected.add(write("r" + i, master, bytes(40_000, 10 + i), 4096L * 37 * i));
        }
        // The "reboot": no table, no loop device, no JVM state; only the pool directory remains.
        pool.close();
        KernelLeaks.tearDownAndCheck(pool, tmp);
        assertFalse(Files.exists(pool.deviceOf("r1")));
        pool = new DmSnapshotBackend().openPool(dir);
        assertEquals(List.of("r1", "r2", "r3"), pool.activate());
        assertEquals(List.of("r1", "r2", "r3"), pool.activate(), "activation is idempotent");
        for (int i = 1; i <= 3; i++) {
            assertTrue(Files.exists(pool.deviceOf("r" + i)));
            assertArrayEquals(expected.get(i - 1), read("r" + i), "clone r" + i + " after the reboot");
        }
        assertArrayEquals(master, read("m"));
    }

    @Test
    void statusAgreesWithDmsetupAndLosetup() throws Exception {
        pool.createClone("m", "s");
        write("s", master, bytes(100_000, 3), 12345);
        CowUsage u = pool.cowStatus("s");
        assertEquals(CowUsage.State.VALID, u.state());
        assertTrue(u.allocatedSectors() > u.metadataSectors(), u.toString());
        String dmsetup = run("dmsetup", "status", pool.dmName("s"));
        assertTrue(dmsetup.trim().endsWith("snapshot " + DeviceMapper.targetStatus(pool.dmName("s"))),
                dmsetup + " vs " + DeviceMapper.targetStatus(pool.dmName("s")));
        String table = run("dmsetup", "table", pool.dmName("s"));
        assertTrue(table.contains(" snapshot ") && table.contains(" P 16"), table);
        String losetup = run("losetup", "-l", "-n", "-O", "NAME,RO,BACK-FILE");
        assertTrue(losetup.contains(pool.cowStoreOf("s").toString()), losetup);
        assertTrue(losetup.lines().anyMatch(l -> l.contains(dir.resolve("m.raw").toString()) && l.matches(".*\\s1\\s.*")),
                "the master's loop device is read-only: " + losetup);
    }

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    @Test
    void theWatchGrowsACowStoreBeforeItOverflows() throws Exception {
        pool.createClone("m", "g");
        long initial = Files.size(pool.cowStoreOf("g"));
        AtomicInteger grown = new AtomicInteger();
        AtomicInteger warned = new AtomicInteger();
        FillListener listener = new FillListener() {
            @Override
            public void extended(Fill fill, long newSize) {
                grown.incrementAndGet();
            }

            @Override
            public void warning(Fill fill, int threshold) {
                warned.incrementAndGet();
            }
        };
        byte[] expect = master;
        // Warn at 70%, double the store at 60%.
        try (AutoCloseable w = pool.watch(Duration.ofMillis(10), new FillPolicy(70, 60, 100), listener)) {
            // 2 MiB in 16 KiB steps; after each, the watch (its own thread) must bring the store under 60%.
            for (int i = 0; i < 128; i++) {
                expect = write("g", expect, bytes(16384, 100 + i), 16384L * i * 2);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (pool.fill("g").percent() >= 60 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertFalse(pool.fill("g").lost(), "step " + i);
            }
        }
        assertTrue(grown.get() >= 3, "grown " + grown.get() + " times");
        assertTrue(Files.size(pool.cowStoreOf("g")) > 8 * initial, initial + " -> " + Files.size(pool.cowStoreOf("g")));
        assertEquals(CowUsage.State.VALID, pool.cowStatus("g").state());
        assertArrayEquals(expect, read("g"));
        assertArrayEquals(master, read("m"));
    }

    @Test
    void aCloneThatOverflowsAnywayFailsWithAnErrorNamingIt() throws IOException {
        pool.createClone("m", "full");
        pool.createClone("m", "fine");
        CowStoreFullException e = assertThrows(CowStoreFullException.class,
                () -> write("full", master, bytes(1 << 20, 5), 0));
        assertEquals("full", e.cloneName());
        assertTrue(e.getMessage().contains("'full'") && e.getMessage().contains("full.cow"), e.getMessage());
        assertTrue(pool.fill("full").lost());
        assertThrows(CowStoreFullException.class, () -> pool.open("full", false));
        List<String> seen = new ArrayList<>();
        FillListener listener = new FillListener() {
            @Override
            public void warning(Fill fill, int threshold) {
                seen.add("warning " + fill.volume());
            }

            @Override
            public void extended(Fill fill, long newSize) {
                seen.add("extended " + fill.volume());
            }

            @Override
            public void lost(Fill fill) {
                seen.add(fill.volume());
            }
        };
        try (AutoCloseable w = pool.watch(Duration.ofMillis(5), FillPolicy.defaults(), listener)) {
            Thread.sleep(200); // many rounds: the loss is told once, and never as a level to grow
        } catch (Exception watchFailed) {
            throw new IOException(watchFailed);
        }
        assertEquals(List.of("full"), seen);
        assertArrayEquals(master, read("fine"), "a sibling is unaffected");
        pool.delete("full");
    }

    @Test
    void anOverflowedCloneIsReportedLostAlsoAfterAReboot() throws IOException {
        pool.createClones("m", List.of("gone", "kept"));
        // No watch: the store (1% of the master) overflows and the kernel invalidates the snapshot.
        assertThrows(CowStoreFullException.class, () -> write("gone", master, bytes(1 << 20, 5), 0));
        byte[] kept = write("kept", master, bytes(3000, 6), 100);
        Fill f = pool.fill("gone");
        assertTrue(f.lost(), f.toString());
        assertEquals(List.of(true, false), pool.usage().stream().map(Fill::lost).toList());
        // The "reboot": the kernel's status is gone; the store's own header still says so.
        pool.close();
        KernelLeaks.tearDownAndCheck(pool, tmp);
        pool = new DmSnapshotBackend().openPool(dir);
        assertEquals(CowStore.State.INVALID, CowStore.read(dir.resolve("gone.cow")).state());
        assertEquals(List.of(true, false), pool.usage().stream().map(Fill::lost).toList(), "lost before activation");
        assertEquals(List.of("kept"), pool.activate(), "a lost clone is not activated");
        assertFalse(pool.isActive("gone"));
        assertTrue(pool.fill("gone").lost(), "lost after activation");
        assertThrows(CowStoreFullException.class, () -> pool.open("gone", false));
        assertFalse(pool.isActive("gone"), "opening a lost clone makes no device");
        assertArrayEquals(kept, read("kept"));
        assertThrows(CowStoreFullException.class, () -> pool.commit("gone"));
        pool.delete("gone");
    }

    @Test
    void twoPoolsMayEachHaveAMasterCalledGolden() throws IOException {
        Path raw = tmp.resolve("g.img");
        Files.write(raw, master);
        DmSnapshotPool a = new DmSnapshotBackend().openPool(tmp.resolve("vms-a"));
        DmSnapshotPool b = new DmSnapshotBackend().openPool(tmp.resolve("vms-b"));
        try {
            a.importMaster("golden", raw, "raw");
            b.importMaster("golden", raw, "raw");
            a.createClones("golden", List.of("vm1", "vm2"));
            b.createClones("golden", List.of("vm1"));
            assertTrue(a.dmName("vm1").startsWith("vms-a-" + a.settings().poolId().substring(0, 8) + "-"),
                    a.dmName("vm1"));
            assertFalse(a.deviceOf("vm1").equals(b.deviceOf("vm1")));
            byte[] w = bytes(5000, 21);
            try (VirtualDisk d = a.open("vm1", true)) {
                d.write(ByteBuffer.wrap(w), 0);
                d.flush();
            }
            try (VirtualDisk d = b.open("vm1", false)) {
                ByteBuffer got = ByteBuffer.allocate(w.length);
                d.readFully(got, 0);
                assertArrayEquals(Arrays.copyOf(master, w.length), got.array(), "the other pool's vm1 is its own");
            }
            // A pool made before prefixes keeps its recorded (empty) one.
            assertEquals("", pool.settings().devicePrefix());
            assertEquals(pool.dmName("x"), new DmSnapshotBackend().openPool(dir).dmName("x"));
        } finally {
            a.deactivate();
            b.deactivate();
        }
    }

    @Test
    void aFailedFirstImportLeavesNoPoolBehind() throws IOException {
        Path fresh = tmp.resolve("new-pool");
        DmSnapshotPool p = new DmSnapshotBackend().openPool(fresh);
        assertFalse(Files.exists(fresh), "opening a pool creates nothing");
        assertEquals(List.of(), p.volumes());
        assertEquals(List.of(), p.activate());
        assertThrows(io.cowherd.NoSuchVolumeException.class, () -> p.createClone("m", "c"));
        assertThrows(RuntimeException.class, () -> p.importMaster("m", tmp.resolve("missing.img"), "raw"));
        assertFalse(Files.exists(fresh), "a failed first import leaves no pool directory");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        DmSnapshotPool q = new DmSnapshotBackend().openPool(empty);
        assertThrows(RuntimeException.class, () -> q.importMaster("m", tmp.resolve("missing.img"), "raw"));
        try (var files = Files.list(empty)) {
            assertEquals(List.of(), files.toList(), "an existing directory is left as it was");
        }
        Path raw = tmp.resolve("ok.img");
        Files.write(raw, master);
        p.importMaster("m", raw, "raw");
        assertTrue(Files.isRegularFile(fresh.resolve("m.raw")));
        assertTrue(new DmSnapshotBackend().recognizes(fresh));
        assertEquals(List.of("m"), io.cowherd.Pools.open(fresh).volumes().stream().map(Volume::name).toList());
        assertEquals("m", p.volumeAt(fresh.resolve("m.raw")).orElseThrow().name());
        assertEquals("c", pool.volumeAt(pool.createClone("m", "c").path()).orElseThrow().name());
        assertEquals("c", pool.volumeAt(dir.resolve("c.cow")).orElseThrow().name());
        p.deactivate();
    }

    @Test
    void promoteMakesACloneAMasterAndLeavesItsSiblingsAlone() throws IOException {
        pool.createClone("m", "c");
        pool.createClone("m", "other");
        byte[] expect = write("c", master, bytes(300_000, 7), 777_777);
        expect = write("c", expect, bytes(5000, 8), SIZE - 5000);
        byte[] other = write("other", master, bytes(7000, 9), 4096);
        Volume c = pool.promote("c");
        assertTrue(c.isMaster());
        assertEquals("c", c.name());
        assertEquals(dir.resolve("c.raw"), c.path());
        assertFalse(Files.exists(dir.resolve("c.cow")), "the clone's store is gone");
        assertArrayEquals(expect, read("c"), "the new master holds the clone's bytes");
        assertArrayEquals(master, read("m"), "the old master is untouched");
        assertArrayEquals(other, read("other"), "a sibling reads what it read");
        pool.createClone("c", "cc");
        assertArrayEquals(expect, read("cc"), "a clone of the promoted master");
        byte[] cc = write("cc", expect, bytes(4096, 10), 0);
        assertArrayEquals(cc, read("cc"));
        assertThrows(io.cowherd.ReadOnlyVolumeException.class, () -> pool.open("c", true));
    }

    @Test
    void commitWritesTheLastCloneIntoItsMaster() throws Exception {
        pool.createClone("m", "c");
        pool.createClone("m", "other");
        byte[] expect = write("c", master, bytes(300_000, 7), 777_777);
        String before = sha256(dir.resolve("m.raw"));
        io.cowherd.MasterInUseException e = assertThrows(io.cowherd.MasterInUseException.class,
                () -> pool.commit("c"));
        assertEquals(List.of("other"), e.clones());
        assertEquals(before, sha256(dir.resolve("m.raw")), "a refused commit leaves the master as it was");
        assertArrayEquals(master, read("other"), "the sibling reads the same");
        assertArrayEquals(expect, read("c"), "the clone reads the same");
        pool.delete("other");
        Volume m = pool.commit("c");
        assertEquals("m", m.name());
        assertTrue(m.isMaster());
        assertTrue(pool.find("c").isEmpty(), "the clone is gone");
        assertFalse(Files.exists(dir.resolve("c.cow")));
        assertEquals(sha256(expect), sha256(dir.resolve("m.raw")), "master bytes = the clone's bytes");
        assertArrayEquals(expect, read("m"));
        pool.createClone("m", "again");
        assertArrayEquals(expect, read("again"));
    }

    static String sha256(Path file) throws Exception {
        return sha256(Files.readAllBytes(file));
    }

    static String sha256(byte[] data) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(data));
    }

    @Test
    void aCloneInUseIsNotDeletedOrDeactivated() throws IOException {
        pool.createClone("m", "busy");
        try (VirtualDisk d = pool.open("busy", true)) {
            assertThrows(DeviceBusyException.class, () -> pool.delete("busy"));
            assertThrows(DeviceBusyException.class, () -> pool.deactivate());
            assertTrue(pool.isActive("busy"));
            assertTrue(pool.find("busy").isPresent());
        }
        pool.delete("busy");
        assertFalse(pool.isActive("busy"));
        assertFalse(Files.exists(dir.resolve("busy.cow")));
    }

    @Test
    void aFailedBatchLeavesNoDeviceLoopOrFile() throws IOException {
        // The third clone's store cannot be created (a dangling link holds its name): the first two are undone.
        Files.createSymbolicLink(dir.resolve("b3.cow"), dir.resolve("nowhere"));
        assertThrows(CowException.class, () -> pool.createClones("m", List.of("b1", "b2", "b3")));
        assertEquals(List.of("m"), pool.volumes().stream().map(Volume::name).toList());
        assertFalse(Files.exists(dir.resolve("b1.cow")));
        KernelLeaks.assertNone(tmp);
        Files.delete(dir.resolve("b3.cow"));
    }

    @Test
    void aCorruptStoreFailsActivationCleanlyAndTheOthersComeBack() throws IOException {
        pool.createClones("m", List.of("ok", "bad"));
        pool.deactivate();
        try (FileChannel ch = FileChannel.open(pool.cowStoreOf("bad"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("not a snapshot store".getBytes(StandardCharsets.US_ASCII)), 0);
        }
        KernelException e = assertThrows(KernelException.class, () -> pool.activate());
        assertTrue(e.getMessage().contains(pool.dmName("bad")), e.getMessage());
        assertFalse(pool.isActive("bad"));
        assertArrayEquals(master, read("ok"));
        pool.deactivate();
        KernelLeaks.assertNone(tmp);
    }

    @Test
    void aQcow2MasterIsConvertedToRawWithOurOwnReader() throws IOException {
        Path raw = tmp.resolve("q.img");
        byte[] content = bytes(3 << 20, 11);
        Files.write(raw, content);
        Path q = tmp.resolve("q.qcow2");
        try (VirtualDisk src = new FileDisk(raw, false)) {
            DiskCopier.copy(src, ImageFormats.byName("qcow2"), q, ImagePolicy.operator());
        }
        pool.importMaster("q", q, "qcow2");
        assertEquals(content.length, Files.size(dir.resolve("q.raw")));
        pool.createClone("q", "qc");
        assertArrayEquals(content, read("qc"));
    }

    @Test
    void theLibvirtHookActivatesClonesInThePreparePhase() throws Exception {
        pool.createClones("m", List.of("h1", "h2"));
        byte[] expect = write("h2", master, bytes(9000, 2), 100);
        pool.deactivate();
        Path hook = tmp.resolve("hooks/qemu");
        LibvirtHook.install(hook, dir, LibvirtHook.defaultCommand());
        LibvirtHook.install(hook, dir, LibvirtHook.defaultCommand()); // a second install changes nothing
        assertEquals(1, Files.readAllLines(hook).stream().filter(l -> l.startsWith("# cowherd-pool: ")).count());
        assertEquals("", run("sh", hook.toString(), "vm", "start", "begin", "-"));
        assertFalse(pool.isActive("h1"), "other phases do nothing");
        run("sh", hook.toString(), "vm", "prepare", "begin", "-");
        assertTrue(pool.isActive("h1") && pool.isActive("h2"));
        assertArrayEquals(expect, read("h2"));
        Path foreign = tmp.resolve("hooks2/qemu");
        Files.createDirectories(foreign.getParent());
        Files.writeString(foreign, "#!/bin/sh\necho mine\n");
        assertThrows(CowException.class, () -> LibvirtHook.install(foreign, dir, LibvirtHook.defaultCommand()));
        assertEquals("#!/bin/sh\necho mine\n", Files.readString(foreign));
    }

    @Test
    void domainCloningWritesBlockDisksForTheClones() throws IOException {
        String xml = "<domain type='kvm'><name>golden</name><memory>65536</memory>"
                + "<os><type arch='x86_64'>hvm</type></os><devices>"
                + "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='"
                + dir.resolve("m.raw") + "'/><target dev='vda' bus='virtio'/></disk>"
                + "</devices></domain>";
        List<ClonedDomain> made = new DomainCloner(null, pool).cloneToXmlFiles(xml,
                DomainCloneOptions.builder().namePattern("vm-%02d").count(2).build(), tmp.resolve("xml"));
        assertEquals(2, made.size());
        for (ClonedDomain d : made) {
            Volume disk = d.disks().get(0);
            assertTrue(d.xml().contains("type='block'") || d.xml().contains("type=\"block\""), d.xml());
            assertTrue(d.xml().contains(disk.path().toString()), d.xml());
            assertTrue(disk.path().startsWith("/dev/mapper"), disk.path().toString());
            assertTrue(Files.exists(disk.path()), "the device exists: " + disk.path());
            assertArrayEquals(master, read(disk.name()));
        }
        assertFalse(Arrays.equals(new byte[0], master));
    }
}
