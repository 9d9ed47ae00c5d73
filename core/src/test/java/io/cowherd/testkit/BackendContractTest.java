package io.cowherd.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.Backends;
import io.cowherd.Capability;
import io.cowherd.CorruptImageException;
import io.cowherd.CowBackend;
import io.cowherd.CowException;
import io.cowherd.Fill;
import io.cowherd.FillPolicy;
import io.cowherd.ImagePolicy;
import io.cowherd.MasterInUseException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.OutOfSpaceException;
import io.cowherd.Pool;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.UnsupportedCapabilityException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeInfo;
import io.cowherd.WrongFormatException;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract every {@link CowBackend} must pass, in the manner of Lucene's base format test
 * cases: a backend's test class extends this one, says which backend it tests and where its
 * pools live, and inherits every test. Nothing here is specific to a format.
 */
public abstract class BackendContractTest {
    /** A master size that is not a power of two and ends in a partial 64 KiB cluster. */
    protected static final int MASTER_SIZE = 4 * 1024 * 1024 + 3 * 65536 + 512;

    @TempDir
    protected Path tempDir;
    protected Pool pool;
    protected byte[] masterContent;

    /** The backend under test. */
    protected abstract CowBackend backend();

    /** Where this test's pool lives; a fresh directory by default. */
    protected Path poolLocation() throws IOException {
        return Files.createDirectories(tempDir.resolve("pool"));
    }

    /** Damages an image file of the backend's own format so that opening it must fail. */
    protected void corrupt(Path image) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            byte[] junk = new byte[48];
            Arrays.fill(junk, (byte) 0xff);
            ch.write(ByteBuffer.wrap(junk), 16);
        }
    }

    @BeforeEach
    void openPool() throws IOException {
        pool = backend().openPool(poolLocation());
        masterContent = content(MASTER_SIZE, 42);
    }

    @AfterEach
    void closePool() {
        if (pool != null) {
            pool.close();
        }
    }

    /** Random bytes with a run of zeros in the middle, so holes are exercised too. */
    protected static byte[] content(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        Arrays.fill(b, size / 4, size / 2, (byte) 0);
        return b;
    }

    protected Path rawFile(String name, byte[] bytes) throws IOException {
        Path p = tempDir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    protected Volume importMaster(String name) throws IOException {
        return pool.importMaster(name, rawFile(name + ".raw", masterContent), "raw");
    }

    protected static byte[] readAll(VirtualDisk disk) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) disk.size());
        disk.readFully(b, 0);
        return b.array();
    }

    protected byte[] readVolume(String name) throws IOException {
        try (VirtualDisk d = pool.open(name, false)) {
            return readAll(d);
        }
    }

    /**
     * What the pool holds at {@code dir}, to check that a failure left nothing behind; the file
     * names by default. Backends whose volumes are not files (LVM) list their volumes instead.
     */
    protected Set<String> filesIn(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    /**
     * How many clones {@link #aThousandClonesOfOneMaster} makes: 1000 unless a backend whose
     * every clone costs a slow external command (LVM) says why it needs fewer.
     */
    protected int thousandClonesCount() {
        return 1000;
    }

    /** Threads in {@link #sixteenThreadsCloningAndDeleting}; 16 unless a slow backend (LVM) says why it needs fewer. */
    protected int cloningThreads() {
        return 16;
    }

    /** Clones each thread makes in {@link #sixteenThreadsCloningAndDeleting}; 20 by default. */
    protected int clonesPerThread() {
        return 20;
    }

    /** Clones each of the two processes makes in {@link #twoProcessesOnOnePool}; 150 by default. */
    protected int clonesPerProcess() {
        return 150;
    }

    // ---- the basics ----

    @Test
    void backendIsFoundByName() {
        assertEquals(backend().getClass(), Backends.byName(backend().name()).getClass());
        CowException e = assertThrows(CowException.class, () -> Backends.byName("no-such-backend"));
        assertTrue(e.getMessage().contains(backend().name()), "a failed lookup lists what exists: " + e.getMessage());
    }

    @Test
    void cloneReadsExactlyTheMastersBytes() throws IOException {
        importMaster("m");
        pool.createClone("m", "c");
        assertArrayEquals(masterContent, readVolume("m"));
        assertArrayEquals(masterContent, readVolume("c"));
    }

    @Test
    void writesToACloneNeverReachTheMasterOrASibling() throws IOException {
        Assumptions.assumeTrue(pool.supports(Capability.WRITE), "backend does not write");
        importMaster("m");
        pool.createClones("m", List.of("a", "b"));
        byte[] expectA = masterContent.clone();
        byte[] expectB = masterContent.clone();
        // Unaligned, cluster-straddling writes, one past the zero run, one at the ragged end.
        long[] offsets = {0, 4097, 65536 - 100, MASTER_SIZE / 3, MASTER_SIZE - 700};
        int len = 600;
        try (VirtualDisk a = pool.open("a", true); VirtualDisk b = pool.open("b", true)) {
            for (int i = 0; i < offsets.length; i++) {
                byte[] pa = content(len, 100 + i);
                byte[] pb = content(len, 200 + i);
                a.write(ByteBuffer.wrap(pa), offsets[i]);
                b.write(ByteBuffer.wrap(pb), offsets[i]);
                System.arraycopy(pa, 0, expectA, (int) offsets[i], len);
                System.arraycopy(pb, 0, expectB, (int) offsets[i], len);
            }
            assertArrayEquals(expectA, readAll(a), "a clone reads its own writes");
            a.flush();
            b.flush();
        }
        assertArrayEquals(masterContent, readVolume("m"), "the master is untouched");
        assertArrayEquals(expectA, readVolume("a"), "writes persist after reopening");
        assertArrayEquals(expectB, readVolume("b"), "siblings do not see each other");
    }

    @Test
    void mastersAreReadOnly() throws IOException {
        importMaster("m");
        assertThrows(ReadOnlyVolumeException.class, () -> pool.open("m", true));
        try (VirtualDisk d = pool.open("m", false)) {
            assertFalse(d.isWritable());
            assertThrows(ReadOnlyVolumeException.class, () -> d.write(ByteBuffer.allocate(512), 0));
        }
        assertArrayEquals(masterContent, readVolume("m"));
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void aThousandClonesOfOneMaster() throws IOException {
        importMaster("m");
        int count = thousandClonesCount();
        List<String> names = IntStream.range(0, count).mapToObj(i -> String.format("c%04d", i)).toList();
        List<Volume> clones = pool.createClones("m", names);
        assertEquals(count, clones.size());
        assertEquals(names, pool.clonesOf("m").stream().map(Volume::name).toList());
        for (String n : List.of(names.get(0), names.get(count / 2), names.get(count - 1))) {
            assertArrayEquals(masterContent, readVolume(n));
        }
        for (String n : names) {
            pool.delete(n);
        }
        assertEquals(List.of("m"), pool.volumes().stream().map(Volume::name).toList());
    }

    @Test
    void aMasterWithClonesCannotBeDeleted() throws IOException {
        importMaster("m");
        pool.createClones("m", List.of("c1", "c2"));
        MasterInUseException e = assertThrows(MasterInUseException.class, () -> pool.delete("m"));
        assertEquals(Set.of("c1", "c2"), new HashSet<>(e.clones()));
        assertArrayEquals(masterContent, readVolume("m"), "a refused delete leaves the master whole");
        pool.delete("c1");
        assertThrows(MasterInUseException.class, () -> pool.delete("m"));
        pool.delete("c2");
        pool.delete("m");
        assertTrue(pool.volumes().isEmpty());
        assertThrows(NoSuchVolumeException.class, () -> pool.delete("m"));
    }

    @Test
    void theRecordSurvivesReopeningThePool() throws IOException {
        importMaster("m");
        pool.createClones("m", List.of("c1", "c2", "c3"));
        pool.delete("c2");
        pool.close();
        pool = backend().openPool(poolLocation());
        assertEquals(List.of("m", "c1", "c3"), pool.volumes().stream().map(Volume::name).toList());
        assertTrue(pool.get("m").isMaster());
        assertEquals("m", pool.get("c3").master());
    }

    @Test
    void chainInspection() throws IOException {
        Volume master = importMaster("m");
        Volume clone = pool.createClone("m", "c");
        VolumeInfo mi = pool.info("m");
        assertEquals(backend().volumeFormat(), mi.format());
        assertEquals(MASTER_SIZE, mi.virtualSize());
        assertNull(mi.backing());
        VolumeInfo ci = pool.info("c");
        assertEquals(backend().volumeFormat(), ci.format());
        assertEquals(MASTER_SIZE, ci.virtualSize());
        assertEquals(2, ci.chain().size());
        assertNotNull(ci.backing());
        assertEquals(master.path().toAbsolutePath().normalize().toString(),
                Path.of(ci.fullBackingFilename()).toAbsolutePath().normalize().toString());
        assertEquals(master.format(), ci.backingFormat());
        assertTrue(ci.actualSize() >= 0 && ci.actualSize() < MASTER_SIZE, "a fresh clone is small: " + ci.actualSize());
        assertEquals(clone.path().toString(), ci.location());
    }

    @Test
    void namesAreCheckedAndNeverOverwritten() throws IOException {
        importMaster("m");
        pool.createClone("m", "c");
        assertThrows(VolumeExistsException.class, () -> pool.createClone("m", "c"));
        assertThrows(VolumeExistsException.class, () -> importMaster("c"));
        for (String bad : List.of("", "../x", "a/b", ".hidden", "x y")) {
            assertThrows(IllegalArgumentException.class, () -> pool.createClone("m", bad), bad);
        }
        assertThrows(CowException.class, () -> pool.createClone("c", "clone-of-clone"));
    }

    // ---- capabilities ----

    /** One working use of each capability; the map must cover them all. */
    private Map<Capability, Consumer<Pool>> capabilityChecks() {
        Map<Capability, Consumer<Pool>> checks = new EnumMap<>(Capability.class);
        checks.put(Capability.IMPORT, p -> uncheck(() -> importMaster("cap-m")));
        checks.put(Capability.CLONE, p -> p.createClone("m", "cap-c"));
        checks.put(Capability.READ, p -> uncheck(() -> readVolume("m")));
        checks.put(Capability.WRITE, p -> uncheck(() -> {
            try (VirtualDisk d = p.open("c", true)) {
                d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
            }
            return null;
        }));
        checks.put(Capability.ACTIVATE, p -> uncheck(() -> {
            p.deactivate();
            assertTrue(p.activate().contains("c"), "activation brings the clone back");
            assertArrayEquals(masterContent, readVolume("m"));
            return null;
        }));
        checks.put(Capability.FILL, p -> {
            List<Fill> found = new ArrayList<>();
            List<Fill> fills = p.checkFill(FillPolicy.warnOnly(100), (f, t) -> found.add(f));
            assertFalse(fills.stream().anyMatch(Fill::lost), "nothing is lost in a fresh pool: " + fills);
            // Levels are live (a thin pool's metadata moves on its own): compare what is reported, not how full.
            assertEquals(fills.stream().map(f -> f.kind() + " " + f.volume()).toList(),
                    p.usage().stream().map(f -> f.kind() + " " + f.volume()).toList(), "checking reports what usage() reports");
        });
        checks.put(Capability.FLATTEN, p -> uncheck(() -> {
            p.createClone("m", "cap-f");
            Volume v = p.flatten("cap-f");
            assertEquals(Volume.Role.STANDALONE, v.role());
            assertNull(v.master());
            assertArrayEquals(masterContent, readVolume("cap-f"));
            return null;
        }));
        checks.put(Capability.PROMOTE, p -> uncheck(() -> {
            p.createClone("m", "cap-p");
            Volume v = p.promote("cap-p");
            assertTrue(v.isMaster());
            p.createClone("cap-p", "cap-pc");
            assertArrayEquals(masterContent, readVolume("cap-pc"));
            return null;
        }));
        checks.put(Capability.COMMIT, p -> uncheck(() -> {
            p.importMaster("cap-cm", rawFile("cap-cm.raw", masterContent), "raw");
            p.createClone("cap-cm", "cap-cc");
            assertEquals("cap-cm", p.commit("cap-cc").name());
            assertTrue(p.find("cap-cc").isEmpty(), "a committed clone is gone");
            return null;
        }));
        checks.put(Capability.RESIZE, p -> {
            p.resize("c", MASTER_SIZE + 1024 * 1024);
            assertEquals(MASTER_SIZE + 1024 * 1024, p.info("c").virtualSize());
        });
        checks.put(Capability.STREAM, p -> uncheck(() -> streamAMaster(p)));
        return checks;
    }

    /**
     * A master served by {@code qemu-nbd} (the peer's own server) on one of the pool's stream
     * sockets: a clone of it reads the master's bytes, and still does after the switch to a local
     * copy, with the server gone. A backend without {@link Capability#STREAM} refuses before it
     * connects, so no server is started for it.
     */
    private Object streamAMaster(Pool p) throws IOException {
        Path socket = p.streamSockets().resolve("cap.sock");
        if (!p.supports(Capability.STREAM)) {
            return p.addStreamingMaster("cap-s", socket, "disk");
        }
        Files.createDirectories(p.streamSockets());
        Path local = p.streamSockets().resolve("cap-s.raw");
        Files.write(local, masterContent);
        Process nbd = new ProcessBuilder("qemu-nbd", "-r", "-t", "-f", "raw", "-x", "disk", "-k", socket.toString(),
                local.toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            for (int i = 0; i < 200 && !Files.exists(socket); i++) {
                Thread.sleep(25);
            }
            assertTrue(p.addStreamingMaster("cap-s", socket, "disk").isMaster());
            p.createClone("cap-s", "cap-sc");
            assertArrayEquals(masterContent, readVolume("cap-sc"), "a clone of a streaming master reads its bytes");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        } finally {
            nbd.destroy();
        }
        p.completeStream("cap-s", local);
        assertArrayEquals(masterContent, readVolume("cap-sc"), "the same bytes from the local copy, the server gone");
        return null;
    }

    // ---- a master never changes while it has clones; the ways out ----

    /** What the master's storage holds, hashed: its file when volumes are files, else its guest bytes. */
    private String masterFingerprint(String master) throws IOException {
        Volume v = pool.get(master);
        byte[] bytes = backend().volumesAreFiles() ? Files.readAllBytes(v.path()) : readVolume(master);
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private byte[] writeInto(String clone, long seed) throws IOException {
        byte[] expect = masterContent.clone();
        byte[] data = content(70_000, seed);
        try (VirtualDisk d = pool.open(clone, true)) {
            d.write(ByteBuffer.wrap(data), 4096 + 17);
            d.flush();
        }
        System.arraycopy(data, 0, expect, 4096 + 17, data.length);
        return expect;
    }

    @Test
    void aMasterWithClonesNeverChangesWhateverIsAsked() throws IOException {
        Assumptions.assumeTrue(pool.supports(Capability.WRITE), "backend does not write");
        importMaster("m");
        pool.createClones("m", List.of("a", "b"));
        byte[] a = writeInto("a", 7);
        String before = masterFingerprint("m");
        if (pool.supports(Capability.COMMIT)) {
            MasterInUseException e = assertThrows(MasterInUseException.class, () -> pool.commit("a"));
            assertEquals(List.of("b"), e.clones(), "the refusal names the other clones");
        }
        if (pool.supports(Capability.RESIZE)) {
            assertThrows(MasterInUseException.class, () -> pool.resize("m", MASTER_SIZE * 2L));
        }
        assertThrows(MasterInUseException.class, () -> pool.delete("m"));
        assertThrows(ReadOnlyVolumeException.class, () -> pool.open("m", true));
        assertEquals(before, masterFingerprint("m"), "the master's bytes are unchanged");
        assertArrayEquals(masterContent, readVolume("b"), "a sibling reads what it read before");
        assertArrayEquals(a, readVolume("a"));
        assertEquals(MASTER_SIZE, pool.info("m").virtualSize());
    }

    /**
     * The file-level operations ({@link io.cowherd.Images}, what the CLI's qemu-img-style
     * commands call) on files this pool records go through the pool: a master with clones is
     * never resized, repaired or committed into, a clone keeps the backing its record names.
     */
    @Test
    void fileLevelOperationsOnAMasterWithClonesAreRefused() throws Exception {
        Assumptions.assumeTrue(backend().volumesAreFiles(), "the backend's volumes are not files");
        Volume m = importMaster("m");
        pool.createClones("m", List.of("a", "b"));
        String before = masterFingerprint("m");
        io.cowherd.spi.ImageFormat format = io.cowherd.spi.ImageFormats.byName(m.format());
        ImagePolicy policy = ImagePolicy.operator();
        assertThrows(MasterInUseException.class,
                () -> io.cowherd.Images.resize(m.path(), format, size -> size * 2, policy));
        MasterInUseException repair = assertThrows(MasterInUseException.class,
                () -> io.cowherd.Images.check(m.path(), format, io.cowherd.Images.Repair.ALL, policy));
        assertEquals(List.of("a", "b"), repair.clones());
        Path clone = pool.get("a").path();
        assertThrows(io.cowherd.UnsupportedFeatureException.class,
                () -> io.cowherd.Images.rebase(clone, format, m.path(), m.format(), true, policy));
        if (format instanceof io.cowherd.spi.OverlayFormat overlay) {
            // An overlay made by hand outside the pool, backed by the pool's master.
            Path byHand = tempDir.resolve("by-hand." + m.format());
            overlay.createOverlay(byHand, m.path(), m.format(), MASTER_SIZE);
            try (VirtualDisk d = format.open(byHand, policy, true, 0)) {
                d.write(ByteBuffer.wrap(content(8192, 9)), 0);
            }
            assertThrows(MasterInUseException.class, () -> io.cowherd.Images.commit(byHand, format, policy));
        }
        assertEquals(before, masterFingerprint("m"), "the master's bytes are unchanged");
        assertArrayEquals(masterContent, readVolume("b"), "a sibling reads what it read before");
        assertEquals(MASTER_SIZE, pool.info("m").virtualSize());
        assertEquals("m", pool.get("a").master(), "the clone keeps its master");
        if (pool.supports(Capability.FLATTEN)) {
            io.cowherd.Images.rebase(clone, format, null, null, false, policy);
            assertEquals(Volume.Role.STANDALONE, pool.get("a").role(), "a safe rebase onto nothing is the pool's flatten");
        }
    }

    @Test
    void commitWritesTheLastCloneIntoItsMaster() throws IOException {
        Assumptions.assumeTrue(pool.supports(Capability.COMMIT), "backend does not commit");
        importMaster("m");
        pool.createClones("m", List.of("a", "b"));
        byte[] a = writeInto("a", 8);
        pool.delete("b");
        assertEquals("m", pool.commit("a").name());
        assertTrue(pool.find("a").isEmpty(), "the committed clone is gone");
        assertArrayEquals(a, readVolume("m"), "the master holds the clone's bytes");
        assertTrue(pool.get("m").isMaster());
        assertThrows(ReadOnlyVolumeException.class, () -> pool.open("m", true), "still a read-only master");
        pool.createClone("m", "c");
        assertArrayEquals(a, readVolume("c"));
    }

    @Test
    void flattenedCloneStandsAloneAndFreesItsMaster() throws IOException {
        Assumptions.assumeTrue(pool.supports(Capability.FLATTEN), "backend does not flatten");
        importMaster("m");
        pool.createClones("m", List.of("a", "b"));
        byte[] a = writeInto("a", 9);
        String before = masterFingerprint("m");
        assertEquals(Volume.Role.STANDALONE, pool.flatten("a").role());
        assertEquals(before, masterFingerprint("m"));
        assertArrayEquals(a, readVolume("a"));
        assertArrayEquals(masterContent, readVolume("b"));
        assertEquals(List.of("b"), pool.clonesOf("m").stream().map(Volume::name).toList());
        pool.delete("b");
        pool.delete("m");
        assertArrayEquals(a, readVolume("a"), "a flattened volume needs no master");
        writeInto("a", 10); // and stays writable
        assertThrows(CowException.class, () -> pool.createClone("a", "x"), "a standalone volume is no master");
        pool.close();
        pool = backend().openPool(poolLocation());
        assertEquals(Volume.Role.STANDALONE, pool.get("a").role(), "the record says so after reopening");
    }

    @Test
    void promotedCloneIsAMasterAndItsSiblingsKeepTheirs() throws IOException {
        Assumptions.assumeTrue(pool.supports(Capability.PROMOTE), "backend does not promote");
        importMaster("m");
        pool.createClones("m", List.of("a", "b"));
        byte[] a = writeInto("a", 11);
        String before = masterFingerprint("m");
        assertTrue(pool.promote("a").isMaster());
        assertEquals(before, masterFingerprint("m"));
        assertArrayEquals(masterContent, readVolume("b"));
        assertArrayEquals(a, readVolume("a"));
        assertThrows(ReadOnlyVolumeException.class, () -> pool.open("a", true), "a promoted clone is read-only");
        pool.createClones("a", List.of("a1", "a2"));
        assertArrayEquals(a, readVolume("a2"));
        assertThrows(MasterInUseException.class, () -> pool.delete("a"));
    }

    @Test
    void resizeGrowsACloneAndAMasterWithoutClones() throws IOException {
        Assumptions.assumeTrue(pool.supports(Capability.RESIZE), "backend does not resize");
        importMaster("m");
        pool.createClone("m", "c");
        long bigger = MASTER_SIZE + 2L * 1024 * 1024;
        pool.resize("c", bigger);
        assertEquals(bigger, pool.info("c").virtualSize());
        byte[] grown = readVolume("c");
        assertArrayEquals(masterContent, Arrays.copyOf(grown, MASTER_SIZE));
        assertTrue(IntStream.range(MASTER_SIZE, grown.length).allMatch(i -> grown[i] == 0), "the new part reads zeros");
        assertEquals(MASTER_SIZE, pool.info("m").virtualSize(), "the master keeps its size");
        pool.delete("c");
        pool.resize("m", bigger);
        assertEquals(bigger, pool.info("m").virtualSize());
        assertThrows(ReadOnlyVolumeException.class, () -> pool.open("m", true), "still read-only");
    }

    /** Whether this pool's clones have copy-on-write stores of their own; LVM thin pools say no. */
    protected boolean clonesHaveStores() {
        return pool.supports(Capability.FILL);
    }

    @Test
    void aClonesStoreSizeIsChosenAtCloneTime() throws IOException {
        importMaster("m");
        if (!pool.supports(Capability.FILL)) {
            UnsupportedCapabilityException e = assertThrows(UnsupportedCapabilityException.class,
                    () -> pool.createClones("m", List.of("s"), 50));
            assertEquals(Capability.FILL, e.capability());
            return;
        }
        if (!clonesHaveStores()) {
            assertThrows(io.cowherd.UnsupportedFeatureException.class, () -> pool.createClones("m", List.of("s"), 50));
            assertTrue(pool.find("s").isEmpty());
            return;
        }
        assertThrows(IllegalArgumentException.class, () -> pool.createClones("m", List.of("s"), 0));
        assertTrue(pool.find("s").isEmpty());
        pool.createClones("m", List.of("whole"), 100);
        // A store as large as its master never overflows: write more than the default 10-25% would hold.
        byte[] data = content(MASTER_SIZE * 6 / 10, 12);
        try (VirtualDisk d = pool.open("whole", true)) {
            d.write(ByteBuffer.wrap(data), 0);
            d.flush();
        }
        Fill f = pool.usage().stream().filter(x -> x.volume().equals("whole")).findFirst().orElseThrow();
        assertFalse(f.lost(), f.toString());
        assertTrue(f.percent() < 100, f.toString());
        byte[] expect = masterContent.clone();
        System.arraycopy(data, 0, expect, 0, data.length);
        assertArrayEquals(expect, readVolume("whole"));
    }

    @Test
    void thePoolNamesItsOwnBackend() {
        importMasterUnchecked("m");
        try (Pool again = io.cowherd.Pools.open(pool.location())) {
            assertEquals(backend().name(), again.backend().name());
            assertEquals(List.of("m"), again.volumes().stream().map(Volume::name).toList());
        }
    }

    private void importMasterUnchecked(String name) {
        uncheck(() -> importMaster(name));
    }

    @Test
    void everyDeclaredCapabilityWorksAndEveryOtherFailsClearly() throws IOException {
        Map<Capability, Consumer<Pool>> checks = capabilityChecks();
        assertEquals(EnumSet(Capability.values()), checks.keySet(), "the kit checks every capability");
        importMaster("m");
        pool.createClone("m", "c");
        for (Capability cap : Capability.values()) {
            Consumer<Pool> check = checks.get(cap);
            if (pool.supports(cap)) {
                check.accept(pool);
            } else {
                UnsupportedCapabilityException e = assertThrows(UnsupportedCapabilityException.class,
                        () -> check.accept(pool), cap.name());
                assertEquals(cap, e.capability());
            }
        }
    }

    private static Set<Capability> EnumSet(Capability[] all) {
        return new HashSet<>(Arrays.asList(all));
    }

    private interface IoAction {
        Object run() throws IOException;
    }

    private static Object uncheck(IoAction a) {
        try {
            return a.run();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    // ---- concurrency ----

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void sixteenThreadsCloningAndDeleting() throws Exception {
        importMaster("m");
        int threads = cloningThreads();
        int perThread = clonesPerThread();
        ExecutorService ex = Executors.newFixedThreadPool(threads);
        List<Future<List<String>>> kept = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            kept.add(ex.submit(() -> {
                List<String> mine = new ArrayList<>();
                for (int i = 0; i < perThread; i++) {
                    String name = "t" + id + "-" + i;
                    pool.createClone("m", name);
                    if (i % 2 == 0) {
                        pool.delete(name);
                    } else {
                        mine.add(name);
                    }
                }
                return mine;
            }));
        }
        Set<String> expected = new HashSet<>();
        for (Future<List<String>> f : kept) {
            expected.addAll(f.get());
        }
        ex.shutdown();
        List<String> actual = pool.clonesOf("m").stream().map(Volume::name).toList();
        assertEquals(actual.size(), new HashSet<>(actual).size(), "no duplicated clone");
        assertEquals(expected, new HashSet<>(actual), "no lost clone");
        assertArrayEquals(masterContent, readVolume(actual.get(0)));
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void twoProcessesOnOnePool() throws Exception {
        importMaster("m");
        int count = clonesPerProcess();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process other = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                PoolWorker.class.getName(), backend().name(), pool.location().toString(), "m", "other-",
                String.valueOf(count)).redirectErrorStream(true).start();
        for (int i = 0; i < count; i++) {
            pool.createClone("m", "here-" + i);
        }
        String output = new String(other.getInputStream().readAllBytes());
        assertTrue(other.waitFor(4, TimeUnit.MINUTES), "the other process finishes");
        assertEquals(0, other.exitValue(), "the other process succeeded: " + output);
        List<String> names = pool.clonesOf("m").stream().map(Volume::name).toList();
        assertEquals(2 * count, names.size(), "no lost clone");
        assertEquals(2 * count, new HashSet<>(names).size(), "no duplicated clone");
        for (int i = 0; i < count; i++) {
            assertTrue(names.contains("here-" + i) && names.contains("other-" + i));
        }
        assertArrayEquals(masterContent, readVolume("other-" + (count - 1)));
    }

    // ---- bad input ----

    @Test
    void missingMasterOrSource() throws IOException {
        Set<String> before = filesIn(pool.location());
        assertThrows(NoSuchVolumeException.class, () -> pool.createClone("nope", "c"));
        assertThrows(NoSuchVolumeException.class,
                () -> pool.importMaster("m", tempDir.resolve("does-not-exist.raw"), "raw"));
        assertEquals(before, filesIn(pool.location()), "nothing half-created");
        assertTrue(pool.volumes().isEmpty());
    }

    /** A registered format other than raw, to feed the backend files that lie about their format. */
    private ImageFormat someStructuredFormat() {
        return ImageFormats.all().values().stream().filter(f -> !f.name().equals("raw")).findFirst()
                .orElseThrow(() -> new org.opentest4j.TestAbortedException("no structured format on the class path"));
    }

    @Test
    void wrongFormatIsATypedErrorAndLeavesNothing() throws IOException {
        ImageFormat f = someStructuredFormat();
        Set<String> before = filesIn(pool.location());
        Path junk = rawFile("junk.img", content(1 << 20, 7));
        assertThrows(WrongFormatException.class, () -> pool.importMaster("m", junk, f.name()));
        assertEquals(before, filesIn(pool.location()));
        assertTrue(pool.volumes().isEmpty());
    }

    @Test
    void truncatedOrCorruptSourceIsATypedErrorAndLeavesNothing() throws IOException {
        ImageFormat f = someStructuredFormat();
        Path good = tempDir.resolve("src." + f.name());
        f.create(good, 8 << 20);
        Path truncated = tempDir.resolve("truncated." + f.name());
        Files.write(truncated, Arrays.copyOf(Files.readAllBytes(good), 80));
        Path corrupt = tempDir.resolve("corrupt." + f.name());
        Files.copy(good, corrupt);
        corrupt(corrupt);
        Set<String> before = filesIn(pool.location());
        for (Path bad : List.of(truncated, corrupt)) {
            CowException e = assertThrows(CowException.class, () -> pool.importMaster("m", bad, f.name()));
            assertTrue(e instanceof CorruptImageException || e instanceof WrongFormatException,
                    "typed error for " + bad + ": " + e);
            assertTrue(e.getMessage().contains(bad.toString()), "the message names the file: " + e.getMessage());
        }
        assertEquals(before, filesIn(pool.location()));
        assertTrue(pool.volumes().isEmpty());
    }

    @Test
    void aCorruptedMasterFailsCloningCleanly() throws IOException {
        Assumptions.assumeTrue(backend().volumesAreFiles(), "file backends only");
        Volume m = importMaster("m");
        m.path().toFile().setWritable(true);
        corrupt(m.path());
        Set<String> before = filesIn(pool.location());
        CowException e = assertThrows(CowException.class, () -> pool.createClones("m", List.of("c1", "c2")));
        assertTrue(e instanceof CorruptImageException || e instanceof WrongFormatException, e.toString());
        assertEquals(before, filesIn(pool.location()));
        assertEquals(List.of("m"), pool.volumes().stream().map(Volume::name).toList());
    }

    @Test
    void noSpaceIsATypedErrorAndLeavesNothing() throws Exception {
        Assumptions.assumeTrue(backend().volumesAreFiles(), "file backends only");
        try (TmpfsMount small = TmpfsMount.tryMount(tempDir, 2L << 20)) {
            Assumptions.assumeTrue(small != null, "needs root to mount a small tmpfs");
            Pool tiny = backend().openPool(small.dir().resolve("pool"));
            Path big = rawFile("big.raw", content(8 << 20, 9));
            Set<String> before = filesIn(tiny.location());
            assertThrows(OutOfSpaceException.class, () -> tiny.importMaster("m", big, "raw"));
            assertEquals(before, filesIn(tiny.location()), "nothing half-written");
            assertTrue(tiny.volumes().isEmpty());
            tiny.close();
        }
    }
}
