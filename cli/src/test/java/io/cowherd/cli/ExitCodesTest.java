package io.cowherd.cli;

import static io.cowherd.cli.CliTest.cowherd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.cli.CliTest.Run;
import io.cowherd.testkit.TmpfsMount;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every exit code the README's table promises, reached by a real command that earns it (a hostile
 * bundle archive for 8, unsafe), each with one error line on stderr that names the file or thing
 * concerned.
 */
class ExitCodesTest {
    @TempDir
    Path dir;

    /** The README's "Exit codes: 0 ok, 1 usage (...), 2 other failure, ..." as code to meaning. */
    private static Map<Integer, String> readmeTable() throws Exception {
        String readme = Files.readString(Path.of("../README.md")).replaceAll("\\s+", " ");
        String table = readme.substring(readme.indexOf("Exit codes: "), readme.indexOf(". Errors go to stderr"));
        Map<Integer, String> codes = new TreeMap<>();
        Matcher m = Pattern.compile("(?:: |, )(\\d) ([a-z ]+)").matcher(table.replaceAll("\\([^)]*\\)", ""));
        while (m.find()) {
            codes.put(Integer.parseInt(m.group(1)), m.group(2).strip());
        }
        return codes;
    }

    @Test
    void everyCodeInTheReadmeIsReached() throws Exception {
        Map<Integer, String> table = readmeTable();
        assertEquals(10, table.size(), "0-9 in the README: " + table);
        Path master = Files.write(dir.resolve("m.raw"), randomBytes(1 << 20));
        Map<Integer, Run> reached = new TreeMap<>();

        reached.put(0, cowherd("backends"));
        reached.put(1, cowherd("info"));
        reached.put(2, cowherd("convert", "-f", "raw", "-O", "qcow2", master.toString(), master.resolve("x.qcow2").toString()));
        reached.put(3, cowherd("info", dir.resolve("missing.qcow2").toString()));
        Path corrupt = Files.write(dir.resolve("corrupt.qcow2"), "QFI\u00fb garbage".getBytes(StandardCharsets.ISO_8859_1));
        reached.put(4, cowherd("info", "-f", "qcow2", corrupt.toString()));
        reached.put(5, cowherd("convert", "-c", "-f", "raw", "-O", "vhd", master.toString(), dir.resolve("c.vhd").toString()));
        assertEquals(0, cowherd("clone", master.toString(), "a").exit());
        reached.put(6, cowherd("clone", dir.resolve("m.qcow2").toString(), "a"));
        reached.put(8, cowherd("bundle", "import", hostileArchive().toString(), "--into", dir.resolve("in").toString()));
        reached.put(9, cowherd("domain", "clone", "--connect", "test://" + dir.resolve("no-such-driver.xml"), "--domain",
                "test", "--count", "1", "--pool", dir.resolve("pool").toString()));
        try (TmpfsMount small = TmpfsMount.tryMount(dir, 256 << 10)) {
            Assumptions.assumeTrue(small != null, "mounting a tmpfs needs root");
            reached.put(7, cowherd("convert", "-f", "raw", "-O", "qcow2", master.toString(),
                    small.dir().resolve("full.qcow2").toString()));
            assertFalse(Files.exists(small.dir().resolve("full.qcow2")), "nothing left behind");
        }

        for (Map.Entry<Integer, String> e : table.entrySet()) {
            Run r = reached.get(e.getKey());
            assertTrue(r != null, "no test reaches exit " + e.getKey() + " (" + e.getValue() + ")");
            assertEquals(e.getKey(), r.exit(), "exit " + e.getKey() + " (" + e.getValue() + "): " + r.err());
            if (e.getKey() > 1) {
                assertEquals(1, r.err().lines().count(), "one error line: " + r.err());
                assertTrue(r.err().startsWith("cowherd: "), r.err());
                assertFalse(r.err().contains("java."), "no Java class names: " + r.err());
            }
        }
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new Random(1).nextBytes(b);
        return b;
    }

    private Path hostileArchive() throws Exception {
        Path archive = dir.resolve("evil.tar");
        try (OutputStream out = Files.newOutputStream(archive); TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            TarArchiveEntry e = new TarArchiveEntry("../../evil");
            byte[] d = "x".getBytes(StandardCharsets.UTF_8);
            e.setSize(d.length);
            tar.putArchiveEntry(e);
            tar.write(d);
            tar.closeArchiveEntry();
        }
        return archive;
    }
}
