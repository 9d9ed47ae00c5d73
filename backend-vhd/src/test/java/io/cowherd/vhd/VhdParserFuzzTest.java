package io.cowherd.vhd;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.cowherd.CowException;
import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Jazzer over the footer, dynamic header, block allocation table, bitmap and locator parsers,
 * through every entry point that reads a file: info, open and read, check. A hostile file may
 * only ever raise a typed {@link CowException}; anything else (an unchecked exception, a hang,
 * running out of memory) is a bug. Checksums are fixed up before parsing so the fuzzer gets past
 * them into the fields behind. Seeds are in {@code VhdParserFuzzTestInputs/parsers}; with
 * {@code JAZZER_FUZZ=1} (set by this module's pom) the test fuzzes for 30 seconds.
 */
class VhdParserFuzzTest {
    private static final VhdFormat FORMAT = new VhdFormat();
    private static final Path DIR;
    private static final Path FILE;
    /** Small limits so that crafted sizes cannot make a single run slow. */
    private static final ImagePolicy POLICY;

    static {
        try {
            DIR = Files.createTempDirectory("vhd-fuzz");
            FILE = DIR.resolve("input.vhd");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ImagePolicy confined = ImagePolicy.confinedTo(DIR);
        POLICY = new ImagePolicy(confined.allowedFormats(), false, DIR, 1L << 30, 4, 1 << 20);
    }

    @FuzzTest(maxDuration = "30s")
    void parsers(byte[] input) throws IOException {
        byte[] bytes = input.clone();
        fixChecksums(bytes);
        Files.write(FILE, bytes);
        try {
            FORMAT.info(FILE, POLICY, 0);
        } catch (CowException expected) {
            // a typed refusal is the right answer to a bad file
        }
        try (VirtualDisk d = FORMAT.open(FILE, POLICY, false, 0)) {
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            long size = d.size();
            for (long at : new long[] {0, size / 2, Math.max(0, size - 1000)}) {
                buf.clear();
                d.read(buf, at);
            }
        } catch (CowException expected) {
            // as above
        }
        try {
            FORMAT.check(FILE, POLICY, false);
        } catch (CowException expected) {
            // as above
        }
    }

    /** Recomputes the footer checksums (end and offset 0) and the dynamic header's at 512. */
    private static void fixChecksums(byte[] b) {
        if (b.length >= 512) {
            fixAt(b, b.length - 512, 512, 64);
            fixAt(b, 0, 512, 64);
        }
        if (b.length >= 1536) {
            fixAt(b, 512, 1024, 36);
        }
    }

    private static void fixAt(byte[] b, int at, int len, int field) {
        byte[] part = java.util.Arrays.copyOfRange(b, at, at + len);
        ByteBuffer.wrap(b).putInt(at + field, VhdFooter.checksum(part, field));
    }
}
