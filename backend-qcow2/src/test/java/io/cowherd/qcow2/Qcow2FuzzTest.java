package io.cowherd.qcow2;

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
 * Coverage-guided fuzzing of the qcow2 header, table and cluster parsers (Jazzer). Any input
 * must end in success or a typed {@link CowException}; anything else (an unchecked exception,
 * a hang, running out of memory in a 256 MiB heap) is a bug. Seeds, real images made by
 * qemu-img, live in {@code src/test/resources/.../Qcow2FuzzTestInputs/fuzzImageParsers}.
 * {@code mvn test} fuzzes for a bounded time (JAZZER_FUZZ=1 in the pom); without it only the
 * seeds and saved findings are replayed.
 */
class Qcow2FuzzTest {
    private static final Path DIR = tempDir();
    private static final Path IMAGE = DIR.resolve("input.qcow2");
    /** Backing files must stay in an empty directory: a fuzzed name can never reach a real file. */
    private static final ImagePolicy POLICY = ImagePolicy.confinedTo(DIR.resolve("no-backing-files-here"));

    private static Path tempDir() {
        try {
            Path shm = Path.of("/dev/shm");
            return Files.isDirectory(shm) ? Files.createTempDirectory(shm, "cowherd-fuzz") : Files.createTempDirectory("cowherd-fuzz");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "45s")
    void fuzzImageParsers(byte[] input) throws IOException {
        Files.write(IMAGE, input);
        try (VirtualDisk disk = Qcow2Image.open(IMAGE, POLICY, false, 0)) {
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            long size = disk.size();
            for (long at : new long[] {0, size / 2, Math.max(0, size - buf.capacity())}) {
                buf.clear();
                disk.read(buf, at);
            }
        } catch (CowException expected) {
            // a typed, explained refusal is the right answer to a malformed image
        }
        try {
            Qcow2Check.run(IMAGE, false);
        } catch (CowException expected) {
            // same
        }
    }
}
