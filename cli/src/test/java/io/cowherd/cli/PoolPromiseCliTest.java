package io.cowherd.cli;

import static io.cowherd.cli.CliTest.cowherd;
import static io.cowherd.cli.CliTest.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.cli.CliTest.Run;
import io.cowherd.dmsnapshot.DmSnapshotBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The pool's promise on the command line, as a user (and root) types it: a master with clones
 * never changes through the qemu-img-style commands, an existing pool names its own backend,
 * read-only commands create nothing, and a refused command leaves nothing behind. QEMU's tools
 * write into the clones and judge the results.
 */
class PoolPromiseCliTest {
    @TempDir
    Path dir;

    static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    private static Set<String> tree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return Set.of();
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.map(p -> root.relativize(p).toString()).collect(Collectors.toSet());
        }
    }

    /** qemu-img's name for our formats. */
    private static String qemu(String format) {
        return format.equals("vhd") ? "vpc" : format;
    }

    @ParameterizedTest
    @ValueSource(strings = {"qcow2", "vhd"})
    void aMasterWithClonesNeverChangesThroughAnyCommand(String format) throws Exception {
        Path gold = dir.resolve("gold." + format);
        sh(dir, "qemu-img", "create", "-q", "-f", qemu(format), gold.toString(), "16M");
        sh(dir, "qemu-io", "-f", qemu(format), "-c", "write -P 0x11 0 1M", gold.toString());
        Run clone = cowherd("clone", gold.toString(), "a", "b");
        assertEquals(0, clone.exit(), clone.err());
        Path a = dir.resolve("a." + format);
        Path b = dir.resolve("b." + format);
        sh(dir, "qemu-io", "-f", qemu(format), "-c", "write -P 0x5a 0 64k", a.toString());
        String before = sha256(gold);
        String sizeBefore = virtualSize(gold, format);

        Run commit = cowherd("commit", a.toString());
        assertEquals(ExitCodes.CONFLICT, commit.exit(), commit.err());
        assertTrue(commit.err().contains("'gold'") && commit.err().contains("(b)"), commit.err());
        Run resize = cowherd("resize", gold.toString(), "+1M");
        assertEquals(ExitCodes.CONFLICT, resize.exit(), resize.err());
        Run repair = cowherd("check", "-r", "leaks", gold.toString());
        assertEquals(ExitCodes.CONFLICT, repair.exit(), repair.err());
        Run rebase = cowherd("rebase", "-u", "-b", gold.toString(), "-F", format, b.toString());
        assertEquals(ExitCodes.UNSUPPORTED, rebase.exit(), rebase.err());
        assertTrue(rebase.err().contains("pool flatten"), rebase.err());
        Run delete = cowherd("delete", "--pool", dir.toString(), "gold");
        assertEquals(ExitCodes.CONFLICT, delete.exit(), delete.err());
        if (format.equals("qcow2")) {
            // An overlay made by hand, outside the pool's record, cannot commit into the master either.
            Path stray = dir.resolve("stray.qcow2");
            sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", gold.toString(), "-F", "qcow2", stray.toString());
            sh(dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x77 0 64k", stray.toString());
            Run strayCommit = cowherd("commit", stray.toString());
            assertEquals(ExitCodes.CONFLICT, strayCommit.exit(), strayCommit.err());
        }

        assertEquals(before, sha256(gold), "the master's bytes are unchanged");
        // QEMU's vpc driver never follows a VHD parent locator: read the clone with cowherd, judge with qemu-img.
        Path bRaw = dir.resolve("b-now.raw");
        assertEquals(0, cowherd("convert", "-f", format, "-O", "raw", b.toString(), bRaw.toString()).exit());
        sh(dir, "qemu-img", "compare", "-f", "raw", "-F", qemu(format), bRaw.toString(), gold.toString());
        assertEquals(sizeBefore, virtualSize(gold, format));
    }

    private String virtualSize(Path image, String format) throws Exception {
        return sh(dir, "qemu-img", "info", "-f", qemu(format), "--output=json", image.toString())
                .replaceAll("(?s).*\"virtual-size\": (\\d+).*", "$1");
    }

    @Test
    void theWaysOutFlattenPromoteAndCommitTheLastClone() throws Exception {
        Path gold = dir.resolve("gold.qcow2");
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", gold.toString(), "16M");
        sh(dir, "qemu-io", "-c", "write -P 0x11 0 1M", gold.toString());
        assertEquals(0, cowherd("clone", gold.toString(), "a", "b", "c").exit());
        for (String c : List.of("a", "b", "c")) {
            sh(dir, "qemu-io", "-c", "write -P 0x" + (int) c.charAt(0) + " 512k 64k", dir.resolve(c + ".qcow2").toString());
        }
        Path aBefore = dir.resolve("a-before.raw");
        sh(dir, "qemu-img", "convert", "-O", "raw", dir.resolve("a.qcow2").toString(), aBefore.toString());
        Path bBefore = dir.resolve("b-before.raw");
        sh(dir, "qemu-img", "convert", "-O", "raw", dir.resolve("b.qcow2").toString(), bBefore.toString());
        Path cBefore = dir.resolve("c-before.raw");
        sh(dir, "qemu-img", "convert", "-O", "raw", dir.resolve("c.qcow2").toString(), cBefore.toString());

        // rebase -b "" on a recorded clone is the pool's flatten.
        Run flatten = cowherd("rebase", "-b", "", dir.resolve("a.qcow2").toString());
        assertEquals(0, flatten.exit(), flatten.err());
        assertFalse(sh(dir, "qemu-img", "info", dir.resolve("a.qcow2").toString()).contains("backing file"));
        sh(dir, "qemu-img", "compare", dir.resolve("a.qcow2").toString(), aBefore.toString());
        sh(dir, "qemu-img", "check", dir.resolve("a.qcow2").toString());

        Run promote = cowherd("pool", "promote", dir.toString(), "b");
        assertEquals(0, promote.exit(), promote.err());
        assertTrue(promote.out().startsWith("b master"), promote.out());
        sh(dir, "qemu-img", "compare", dir.resolve("b.qcow2").toString(), bBefore.toString());
        assertEquals(0, cowherd("clone", dir.resolve("b.qcow2").toString(), "b1").exit());
        sh(dir, "qemu-img", "compare", dir.resolve("b1.qcow2").toString(), bBefore.toString());

        // c is gold's last clone now: commit is allowed, and c is gone.
        Run commit = cowherd("commit", dir.resolve("c.qcow2").toString());
        assertEquals(0, commit.exit(), commit.err());
        assertFalse(Files.exists(dir.resolve("c.qcow2")));
        sh(dir, "qemu-img", "compare", gold.toString(), cBefore.toString());
        sh(dir, "qemu-img", "check", gold.toString());
        Run volumes = cowherd("volumes", dir.toString());
        assertEquals(0, volumes.exit(), volumes.err());
        assertTrue(volumes.out().contains("standalone") && !volumes.out().contains("\nc "), volumes.out());
        sh(dir, "qemu-img", "compare", dir.resolve("a.qcow2").toString(), aBefore.toString());
    }

    @Test
    void readOnlyCommandsCreateNothingAndPoolsNameTheirBackend() throws Exception {
        Path missing = dir.resolve("nonexistent");
        Run none = cowherd("volumes", missing.toString());
        assertEquals(ExitCodes.NOT_FOUND, none.exit(), none.err());
        assertFalse(Files.exists(missing));
        Path plain = Files.createDirectories(dir.resolve("plain"));
        Run notPool = cowherd("volumes", plain.toString());
        assertEquals(ExitCodes.NOT_FOUND, notPool.exit(), notPool.err());
        assertEquals(Set.of(""), tree(plain), "nothing created in a directory that is no pool");
        Path file = Files.writeString(dir.resolve("somefile"), "x");
        Run onFile = cowherd("volumes", file.toString());
        assertEquals(ExitCodes.NOT_FOUND, onFile.exit(), onFile.err());
        assertTrue(onFile.err().contains(file + " is a file"), onFile.err());
        assertEquals(ExitCodes.NOT_FOUND, cowherd("pool", "status", missing.toString()).exit());
        assertFalse(Files.exists(missing));

        Path gold = dir.resolve("gold.qcow2");
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", gold.toString(), "1M");
        Path pool = dir.resolve("pool");
        assertEquals(0, cowherd("clone", "--into", pool.toString(), gold.toString(), "a").exit());
        Run wrong = cowherd("volumes", "--backend", "vhd", pool.toString());
        assertEquals(ExitCodes.USAGE, wrong.exit(), wrong.err());
        assertTrue(wrong.err().contains("'qcow2'"), wrong.err());
        Run wrongClone = cowherd("clone", "--backend", "vhd", "--into", pool.toString(), gold.toString(), "b");
        assertEquals(ExitCodes.USAGE, wrongClone.exit(), wrongClone.err());
        assertFalse(Files.exists(pool.resolve("b.vhd")) || Files.exists(pool.resolve("b.qcow2")));
        Run status = cowherd("pool", "status", pool.toString());
        assertEquals(0, status.exit(), status.err());
        assertTrue(status.out().contains("backend qcow2"), status.out());
        assertEquals(ExitCodes.UNSUPPORTED, cowherd("pool", "activate", pool.toString()).exit(), "qcow2 pools have no devices");
        assertEquals(ExitCodes.UNSUPPORTED, cowherd("pool", "watch", "--once", pool.toString()).exit());
        Run cow = cowherd("clone", "--cow-percent", "50", "--into", pool.toString(), gold.toString(), "c");
        assertEquals(ExitCodes.UNSUPPORTED, cow.exit(), "qcow2 clones have no fixed store: " + cow.err());
        assertFalse(Files.exists(pool.resolve("c.qcow2")));
    }

    @Test
    void defaultsFollowTheData() throws Exception {
        // A fixed VHD is all data and a footer: qemu-img 7.2's probe calls it raw, cowherd finds the footer.
        Path fixed = dir.resolve("qf.vhd");
        sh(dir, "qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=fixed", fixed.toString(), "8M");
        assertTrue(sh(dir, "qemu-img", "info", fixed.toString()).contains("file format: raw"), "qemu-img's probe misses it");
        Run info = cowherd("info", fixed.toString());
        assertEquals(0, info.exit(), info.err());
        assertTrue(info.out().contains("file format: vhd"), info.out());
        assertEquals("", info.err(), "no raw fallback warning for a footer it knows");

        // A VHD master gets a vhd pool and the clone keeps the name the user gave.
        Path vhdDir = Files.createDirectories(dir.resolve("v"));
        Path m = vhdDir.resolve("m.vhd");
        sh(dir, "qemu-img", "create", "-q", "-f", "vpc", m.toString(), "8M");
        Run vhd = cowherd("clone", m.toString(), "c.vhd");
        assertEquals(0, vhd.exit(), vhd.err());
        assertTrue(Files.exists(vhdDir.resolve("c.vhd")));
        assertFalse(Files.exists(vhdDir.resolve("m.qcow2")), "the master is not converted");

        // A name the pool cannot keep is refused with the reason, before anything is imported.
        Path qDir = Files.createDirectories(dir.resolve("q"));
        Path gold = qDir.resolve("gold.qcow2");
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", gold.toString(), "1M");
        Run mismatch = cowherd("clone", gold.toString(), "x.vhd");
        assertEquals(ExitCodes.USAGE, mismatch.exit(), mismatch.err());
        assertTrue(mismatch.err().contains("keeps qcow2 files"), mismatch.err());
        assertFalse(Files.exists(qDir.resolve("x.qcow2")) || Files.exists(qDir.resolve("x.vhd")));
        Run volumes = cowherd("volumes", qDir.toString());
        assertTrue(volumes.exit() == ExitCodes.NOT_FOUND || !volumes.out().contains("gold"), "nothing recorded: " + volumes.out());

        // A raw master named without -f is read as raw, and the user is told.
        Path raw = Files.write(dir.resolve("plain.raw"), new byte[1 << 20]);
        Run r = cowherd("clone", "--into", dir.resolve("rp").toString(), raw.toString(), "a");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("no image format's signature; reading it as raw"), r.err());
        Run stated = cowherd("clone", "-f", "raw", "--into", dir.resolve("rp2").toString(), raw.toString(), "a");
        assertFalse(stated.err().contains("warning"), stated.err());
    }

    @Test
    void errorsNameTheRightThingAndAWayOutThatWorks() throws Exception {
        Path torrent = Files.writeString(dir.resolve("bad.torrent"), "garbage");
        Run fetch = cowherd("fetch", torrent.toString(), "--into", dir.resolve("in").toString());
        assertEquals(ExitCodes.CORRUPT, fetch.exit(), fetch.err());
        assertTrue(fetch.err().contains(torrent.toString()) && !fetch.err().contains("qemu-img"),
                "a torrent is no image: " + fetch.err());
        Path raw = Files.write(dir.resolve("master.raw"), new byte[4096]);
        Run check = cowherd("check", "-f", "raw", raw.toString());
        assertEquals(ExitCodes.UNSUPPORTED, check.exit(), check.err());
        assertTrue(check.err().contains(raw.toString()), "names the file: " + check.err());
    }

    @Test
    void progressOnAPipeIsPlainLines() throws Exception {
        Path raw = dir.resolve("big.raw");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(raw,
                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            for (long at = 0; at < (64L << 20); at += 1 << 20) {
                ch.write(java.nio.ByteBuffer.wrap(new byte[] {1}), at); // data every MiB, holes between
            }
        }
        Run convert = cowherd("convert", "-p", "-f", "raw", "-O", "qcow2", raw.toString(), dir.resolve("o.qcow2").toString());
        assertEquals(0, convert.exit(), convert.err());
        assertFalse(convert.err().contains("\r"), "no carriage returns on a pipe: " + convert.err());
        assertTrue(convert.err().lines().anyMatch(l -> l.startsWith("cowherd: convert: 100% (")),
                convert.err());
        Run clone = cowherd("clone", "-p", "-f", "raw", "--name", "golden-tp", "--into", dir.resolve("p").toString(),
                raw.toString(), "a");
        assertEquals(0, clone.exit(), clone.err());
        assertTrue(clone.err().contains("cowherd: import: 100%"), clone.err());
        assertTrue(cowherd("volumes", dir.resolve("p").toString()).out().contains("golden-tp "), "--name names the master");
        Run quiet = cowherd("convert", "-f", "raw", "-O", "raw", raw.toString(), dir.resolve("o.raw").toString());
        assertEquals("", quiet.err(), "no progress unless asked");
    }

    @Test
    void jsonOutputParsesBackWithTheDocumentedKeys() throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        Path gold = dir.resolve("gold.qcow2");
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", gold.toString(), "1M");
        Path pool = dir.resolve("pool");
        Run clone = cowherd("clone", "--output=json", "--count", "2", "--name-pattern", "w-%d", "--into", pool.toString(),
                gold.toString());
        assertEquals(0, clone.exit(), clone.err());
        var c = json.readTree(clone.out());
        assertEquals(pool.toString(), c.get("pool").asText());
        assertEquals("qcow2", c.get("backend").asText());
        assertEquals("gold", c.get("master").asText());
        assertTrue(c.get("master-imported").asBoolean());
        assertEquals(List.of("w-1", "w-2"), List.of(c.get("volumes").get(0).get("name").asText(),
                c.get("volumes").get(1).get("name").asText()));
        assertEquals("clone", c.get("volumes").get(0).get("role").asText());
        assertEquals(pool.resolve("w-1.qcow2").toString(), c.get("volumes").get(0).get("path").asText());

        var v = json.readTree(cowherd("volumes", "--output=json", pool.toString()).out());
        assertEquals(3, v.get("volumes").size());
        assertEquals("master", v.get("volumes").get(0).get("role").asText());
        assertTrue(v.get("volumes").get(0).get("master").isNull());

        var s = json.readTree(cowherd("pool", "status", "--output=json", pool.toString()).out());
        assertEquals(0, s.get("fills").size());
        assertEquals(0, s.get("lost").size());

        var b = json.readTree(cowherd("backends", "--output=json").out());
        boolean sawQcow2 = false;
        for (var e : b) {
            if (e.get("name").asText().equals("qcow2")) {
                sawQcow2 = true;
                assertTrue(e.get("volumes-are-files").asBoolean());
                assertTrue(e.get("capabilities").toString().contains("\"FLATTEN\""), e.toString());
            }
        }
        assertTrue(sawQcow2, b.toString());
        var info = json.readTree(cowherd("info", "--output=json", "--backing-chain", pool.resolve("w-1.qcow2").toString()).out());
        assertEquals(2, info.size());
        assertEquals("gold.qcow2", info.get(0).get("backing-filename").asText());
        Run bad = cowherd("volumes", "--output=yaml", pool.toString());
        assertEquals(ExitCodes.USAGE, bad.exit());
    }

    /**
     * Without a kernel device mapper (the dm-snapshot suite runs in User-mode Linux), a pool that
     * dm-snapshot has claimed: every command must take it for a dm-snapshot pool.
     */
    @Test
    void aDmSnapshotPoolIsNeverTakenForTheDefaultBackend() throws Exception {
        Path pool = dir.resolve("dm");
        io.cowherd.internal.pool.BackendRecord.claim(Files.createDirectories(pool.resolve(".cowherd")), new DmSnapshotBackend());
        Run qcow2 = cowherd("delete", "--backend", "qcow2", "--pool", pool.toString(), "web-04");
        assertEquals(ExitCodes.USAGE, qcow2.exit(), qcow2.err());
        assertTrue(qcow2.err().contains("'dm-snapshot'"), qcow2.err());
        Run status = cowherd("pool", "status", pool.toString());
        assertEquals(0, status.exit(), status.err());
        assertTrue(status.out().contains("backend dm-snapshot"), status.out());
        Run delete = cowherd("delete", "--pool", pool.toString(), "web-04");
        assertEquals(ExitCodes.NOT_FOUND, delete.exit(), "the dm-snapshot pool answers: " + delete.err());
        Run flatten = cowherd("pool", "flatten", pool.toString(), "web-04");
        assertEquals(ExitCodes.UNSUPPORTED, flatten.exit(), "dm-snapshot cannot flatten: " + flatten.err());
    }

    @Test
    void aRefusedCloneLeavesNothingBehind() throws Exception {
        Path gold = dir.resolve("golden.raw");
        Files.write(gold, new byte[1 << 20]);
        Path pool = dir.resolve("newpool");
        for (String pattern : List.of("bad/%d", "web", "web-%s-%d", "../x%d")) {
            Run r = cowherd("clone", "--count", "2", "--name-pattern", pattern, "--into", pool.toString(), gold.toString());
            assertEquals(ExitCodes.USAGE, r.exit(), pattern + ": " + r.err());
            assertFalse(Files.exists(pool), pattern + ": no pool directory is left");
        }
        // A name taken by a file the pool does not record fails after the import: the import is undone.
        Files.createDirectories(pool);
        Files.writeString(pool.resolve("web-02.qcow2"), "not ours");
        Run taken = cowherd("clone", "--count", "2", "--name-pattern", "web-%02d", "--into", pool.toString(), gold.toString());
        assertEquals(ExitCodes.CONFLICT, taken.exit(), taken.err());
        assertEquals(Set.of("", "web-02.qcow2"), tree(pool), "only what was there before remains");
    }
}
