package io.cowherd.cli;

import static io.cowherd.cli.CliTest.cowherd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cowherd.Backends;
import io.cowherd.Capability;
import io.cowherd.Pools;
import io.cowherd.cli.CliTest.Run;
import io.cowherd.lvm.LvmTestbed;
import io.cowherd.internal.pool.PoolRecords;
import io.cowherd.testkit.kernel.InKernel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line on existing dm-snapshot, LVM classic and LVM thin pools, in a real kernel. A
 * master and two clones are made with {@code cowherd clone --backend ...}; after that no command
 * names the backend, and each must take the pool's own: {@code volumes} and {@code pool status}
 * show it, {@code clone MASTER} clones in the master's own pool, and {@code delete} of a clone
 * leaves no device-mapper device, loop device, file or record of it. A master with clones never
 * changes: {@code delete}, {@code resize}, {@code rebase} and {@code pool commit} are refused with
 * the exit code the backend's capabilities give (6 from the pool where it declares the operation,
 * 5 where it does not), and the master's sha256 and a sibling clone's bytes are the same
 * afterwards. A {@code --backend} that contradicts the pool is refused, naming the pool's, and
 * creates nothing.
 */
@InKernel
class CliKernelTest {
    private static final int SIZE = 8 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static LvmTestbed bed;
    private static Path bedDir;
    @TempDir
    Path tmp;
    private final List<String> vgs = new ArrayList<>();

    @BeforeAll
    static void makePvs() throws IOException {
        bedDir = Files.createTempDirectory("cli-kernel");
        bed = new LvmTestbed(bedDir, 64);
    }

    @AfterAll
    static void dropPvs() throws IOException {
        bed.close();
        try (Stream<Path> s = Files.list(bedDir)) {
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

    @Test
    void dmSnapshotPool() throws Exception {
        Path pool = tmp.resolve("dmpool");
        everyCommandTakesThePoolsBackend(pool, "dm-snapshot", "qcow2");
        assertEquals(List.of(), dm().stream().filter(d -> d.contains("\tCOWHERD-")).toList(),
                "no device of cowherd's is left");
        assertEquals(List.of(), loopFiles().stream().filter(f -> f.startsWith(tmp.toString())).toList(),
                "no loop device is left on the pool's files");
    }

    @Test
    void lvmClassicPool() throws Exception {
        String vg = bed.newVg();
        vgs.add(vg);
        everyCommandTakesThePoolsBackend(Path.of("/dev", vg), "lvm", "dm-snapshot");
        assertEquals(List.of(), lvs(vg));
    }

    @Test
    void lvmThinPool() throws Exception {
        Path pool = bed.newThinPool(32);
        String vg = pool.getName(1).toString();
        vgs.add(vg);
        everyCommandTakesThePoolsBackend(pool, "lvm", "vhd");
        assertEquals(List.of("tp"), lvs(vg), "only the thin pool the test made is left");
    }

    /** The whole story on one pool; ends with every volume deleted through the command line. */
    private void everyCommandTakesThePoolsBackend(Path pool, String backend, String wrong) throws Exception {
        Path raw = Files.write(tmp.resolve("gold.raw"), random(SIZE, 1));
        ok(cowherd("clone", "--backend", backend, "--into", pool.toString(), raw.toString(), "keep", "gone"));

        JsonNode listed = volumes(pool);
        assertEquals(backend, listed.get("backend").asText());
        assertEquals(List.of("gold master null", "keep clone gold", "gone clone gold"), describe(listed));
        Path master = path(listed, "gold");
        Path keep = path(listed, "keep");
        Path gone = path(listed, "gone");
        assertTrue(ok(cowherd("volumes", pool.toString())).out().contains("keep"));
        assertTrue(ok(cowherd("pool", "status", pool.toString())).out().contains("(backend " + backend + ")"));
        // Named by its path alone, the master is cloned in its own pool.
        ok(cowherd("clone", master.toString(), "third"));
        assertEquals(List.of("gold master null", "keep clone gold", "gone clone gold", "third clone gold"),
                describe(volumes(pool)));
        ok(cowherd("delete", "--pool", pool.toString(), "third"));

        // The sibling reads something of its own, so "unchanged" means more than "still the master".
        write(keep, random(65536, 2), 3 * 4096);
        String masterSha = sha256(master);
        String keepSha = sha256(keep);
        List<String> holdingsBefore = holdings(pool);

        Run delete = cowherd("delete", "--pool", pool.toString(), "gold");
        assertEquals(ExitCodes.CONFLICT, delete.exit(), delete.err());
        assertTrue(delete.err().contains("keep, gone"), delete.err());
        refused(cowherd("resize", master.toString(), "+1M"), backend, Capability.RESIZE);
        refused(cowherd("pool", "commit", pool.toString(), "keep"), backend, Capability.COMMIT);
        Run rebase = cowherd("rebase", "-u", "-b", keep.toString(), "-F", "raw", master.toString());
        assertEquals(ExitCodes.UNSUPPORTED, rebase.exit(), rebase.err());
        assertTrue(rebase.err().contains("'gold' is a master of pool " + pool), "the pool refuses: " + rebase.err());

        for (String[] args : List.of(new String[] {"volumes", "--backend", wrong, pool.toString()},
                new String[] {"delete", "--backend", wrong, "--pool", pool.toString(), "gone"},
                new String[] {"clone", "--backend", wrong, "--into", pool.toString(), raw.toString(), "extra"})) {
            Run r = cowherd(args);
            assertEquals(ExitCodes.USAGE, r.exit(), String.join(" ", args) + ": " + r.err());
            assertTrue(r.err().contains("belongs to backend '" + backend + "'"), r.err());
        }

        assertEquals(masterSha, sha256(master), "the master's bytes are unchanged");
        assertEquals(keepSha, sha256(keep), "the sibling reads what it read before");
        assertEquals(describe(listed), describe(volumes(pool)), "nothing recorded, nothing lost");
        assertEquals(holdingsBefore, holdings(pool), "no LV or file made or removed");

        ok(cowherd("delete", "--pool", pool.toString(), "gone"));
        assertEquals(List.of("gold master null", "keep clone gold"), describe(volumes(pool)));
        assertFalse(Files.exists(gone), gone + " is gone");
        assertEquals(List.of(), dm().stream().filter(d -> d.split("\t")[0].contains("gone")).toList(),
                "no device-mapper device of the deleted clone");
        if (lvmVg(pool).isPresent()) {
            assertFalse(lvs(lvmVg(pool).get()).contains("gone"));
        } else {
            Path cow = pool.resolve("gone.cow");
            assertFalse(Files.exists(cow));
            assertFalse(loopFiles().contains(cow.toString()), "no loop device on " + cow);
            assertFalse(new PoolRecords(pool.resolve(Pools.META_DIR).resolve("volumes"), pool).load().containsKey("gone"),
                    "the journal no longer records it");
            try (Stream<Path> files = Files.walk(pool)) {
                assertEquals(List.of(), files.filter(p -> p.getFileName().toString().contains("gone")).toList());
            }
        }
        assertEquals(masterSha, sha256(master));
        assertEquals(keepSha, sha256(keep));

        ok(cowherd("delete", "--pool", pool.toString(), "keep", "gold"));
        assertEquals(List.of(), describe(volumes(pool)));
        assertFalse(Files.exists(master) || Files.exists(keep));
    }

    /** A change of a master with clones: refused by the pool (6) where the backend declares it, else unsupported (5). */
    private static void refused(Run r, String backend, Capability capability) {
        if (Backends.byName(backend).supports(capability)) {
            assertEquals(ExitCodes.CONFLICT, r.exit(), r.err());
            assertTrue(r.err().contains("master 'gold'") && r.err().contains("still has"), r.err());
        } else {
            assertEquals(ExitCodes.UNSUPPORTED, r.exit(), r.err());
            assertTrue(r.err().contains("backend '" + backend + "' does not support " + capability),
                    "the pool refuses, not a raw file's format: " + r.err());
        }
    }

    private static Run ok(Run r) {
        assertEquals(0, r.exit(), r.err());
        return r;
    }

    private static JsonNode volumes(Path pool) throws IOException {
        return JSON.readTree(ok(cowherd("volumes", "--output=json", pool.toString())).out());
    }

    /** "NAME ROLE MASTER" for each volume listed. */
    private static List<String> describe(JsonNode listed) {
        List<String> out = new ArrayList<>();
        for (JsonNode v : listed.get("volumes")) {
            out.add(v.get("name").asText() + " " + v.get("role").asText() + " " + v.get("master").asText());
        }
        return out;
    }

    private static Path path(JsonNode listed, String name) {
        for (JsonNode v : listed.get("volumes")) {
            if (v.get("name").asText().equals(name)) {
                return Path.of(v.get("path").asText());
            }
        }
        throw new AssertionError(name + " not listed: " + listed);
    }

    /** What a pool holds: the LVs of its volume group, or the files under its directory. */
    private static List<String> holdings(Path pool) throws IOException {
        if (lvmVg(pool).isPresent()) {
            return lvs(lvmVg(pool).get());
        }
        try (Stream<Path> files = Files.walk(pool)) {
            return files.map(p -> pool.relativize(p).toString()).sorted().toList();
        }
    }

    /** The volume group of an LVM pool location, empty for a directory pool. */
    private static Optional<String> lvmVg(Path pool) {
        return pool.startsWith("/dev") ? Optional.of(pool.getName(1).toString()) : Optional.empty();
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Writes into a clone's device as a guest would, and flushes it to the device. */
    private static void write(Path device, byte[] data, long at) throws IOException {
        try (FileChannel ch = FileChannel.open(device, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(data);
            while (b.hasRemaining()) {
                ch.write(b, at + b.position());
            }
            ch.force(true);
        }
    }

    /** sha256 of everything a file or block device holds (a size change changes it too). */
    private static String sha256(Path p) throws IOException, NoSuchAlgorithmException {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Every device-mapper device as "NAME\tUUID". */
    private static List<String> dm() throws Exception {
        String out = sh("dmsetup", "info", "-c", "--noheadings", "--separator", "\t", "-o", "name,uuid");
        return out.lines().filter(l -> !l.isBlank() && !l.startsWith("No devices found")).toList();
    }

    /** The backing file of every loop device. */
    private static List<String> loopFiles() throws Exception {
        return sh("losetup", "-l", "-n", "-O", "BACK-FILE").lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    }

    /** The LVs of volume group {@code vg}, by name. */
    private static List<String> lvs(String vg) {
        try {
            return sh("lvs", "--noheadings", "-o", "lv_name", vg).lines().map(String::strip).filter(l -> !l.isEmpty())
                    .sorted().toList();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static String sh(String... cmd) throws Exception {
        // stdout only (LVM says "no logical volumes" on stderr); stderr goes to the kernel's report.
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed (its stderr is in the report): " + out);
        return out;
    }
}
