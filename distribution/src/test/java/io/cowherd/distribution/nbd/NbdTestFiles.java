package io.cowherd.distribution.nbd;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/** Source files and external tools for the NBD tests. */
public final class NbdTestFiles {
    private NbdTestFiles() {
    }

    /** Size of {@link #dataAndHoles}: 5 MiB + 333 bytes, not a multiple of 512. */
    static final long SIZE = (5L << 20) + 333;
    /** Where {@link #dataAndHoles} holds 64 KiB of the byte 0xab. */
    static final long PATTERN_AT = 3L << 20;

    /** A sparse file: random data, holes, a 0xab run and a random tail that ends off any sector. */
    static Path dataAndHoles(Path dir) throws IOException {
        Path f = dir.resolve("source.raw");
        Random r = new Random(17);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(SIZE);
            write(raf, 0, random(r, 64 << 10));
            write(raf, 1 << 20, random(r, 300 << 10)); // a hole before, a hole after
            byte[] pattern = new byte[64 << 10];
            java.util.Arrays.fill(pattern, (byte) 0xab);
            write(raf, PATTERN_AT, pattern);
            write(raf, SIZE - 1000, random(r, 1000));
        }
        return f;
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private static void write(RandomAccessFile raf, long at, byte[] b) throws IOException {
        raf.seek(at);
        raf.write(b);
    }

    /** Exit code and output (stdout and stderr) of a tool. */
    public record Run(int exit, String output) {
    }

    public static Run run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", command));
        }
        return new Run(p.exitValue(), new String(out, java.nio.charset.StandardCharsets.UTF_8));
    }

    public static boolean has(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            if (java.nio.file.Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    static List<String> list(String... s) {
        return new ArrayList<>(List.of(s));
    }
}
