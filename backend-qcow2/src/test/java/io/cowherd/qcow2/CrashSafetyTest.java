package io.cowherd.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.cowherd.ImagePolicy;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault injection: a writer process is killed with SIGKILL at a random moment, again and
 * again; every image it leaves must be called clean or merely leaking by {@code qemu-img check}
 * (never corrupt), and every byte it had flushed must read back, through QEMU and through us.
 * Runs {@code -Dcowherd.crash.runs} times (200 by default; the benchmark job runs 1,000).
 */
class CrashSafetyTest {
    private static final int SIZE = 8 * 1024 * 1024 + 12800;

    @TempDir
    Path dir;

    @Test
    void killedWritersLeaveCleanOrLeakedImagesWithFlushedDataIntact() throws Exception {
        int runs = Integer.getInteger("cowherd.crash.runs", 200);
        byte[] master = new byte[SIZE];
        new Random(99).nextBytes(master);
        Path masterFile = Files.write(dir.resolve("master.raw"), master);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("java.class.path");
        Random random = new Random(Long.getLong("cowherd.crash.seed", 20261126L));
        AtomicInteger leaked = new AtomicInteger();
        for (int run = 0; run < runs; run++) {
            Path clone = dir.resolve("clone-" + run + ".qcow2");
            new Qcow2Format().createOverlay(clone, masterFile, "raw", SIZE);
            long seed = random.nextLong();
            Process writer = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", cp,
                    CrashWriter.class.getName(), clone.toString(), String.valueOf(seed))
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            BufferedReader lines = new BufferedReader(new InputStreamReader(writer.getInputStream()));
            String first = lines.readLine();
            assertEquals("READY", first, "writer started (run " + run + ")");
            Thread.sleep(random.nextInt(250));
            // SIGKILL from outside: Process.destroyForcibly would also close our end of its stdout,
            // and the last rounds it reported would be lost to us.
            new ProcessBuilder("kill", "-9", String.valueOf(writer.pid())).start().waitFor();
            assertTrue(writer.waitFor(30, TimeUnit.SECONDS));
            int flushed = -1;
            for (String line; (line = lines.readLine()) != null; ) {
                if (line.startsWith("F ")) {
                    flushed = Integer.parseInt(line.substring(2));
                }
            }
            io.cowherd.testkit.PeerTool.Result check = QemuTool.run("qemu-img", "check", "-f", "qcow2", clone.toString());
            if (check.exit() == 3) {
                leaked.incrementAndGet();
            } else if (check.exit() != 0) {
                fail("run " + run + " (seed " + seed + ", killed after round " + flushed + "): qemu-img check exit "
                        + check.exit() + "\n" + check.output());
            }
            verifyFlushedData(clone, master, seed, flushed, run);
            Files.delete(clone);
        }
        System.getLogger(getClass().getName()).log(System.Logger.Level.INFO,
                runs + " kills, " + leaked.get() + " images with leaks, none corrupt");
    }

    /** Bytes the unfinished round could have touched are uncertain; all others must match the replay. */
    private void verifyFlushedData(Path clone, byte[] master, long seed, int flushed, int run) throws Exception {
        byte[] expect = master.clone();
        for (int round = 0; round <= flushed; round++) {
            CrashWorkload.apply(expect, CrashWorkload.round(seed, round, SIZE));
        }
        boolean[] uncertain = new boolean[SIZE];
        for (CrashWorkload.Op op : CrashWorkload.round(seed, flushed + 1, SIZE)) {
            java.util.Arrays.fill(uncertain, (int) op.offset(), (int) op.offset() + op.length(), true);
        }
        Path raw = dir.resolve("check.raw");
        Files.deleteIfExists(raw);
        QemuTool.ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", clone.toString(), raw.toString());
        byte[] qemu = Files.readAllBytes(raw);
        byte[] ours;
        try (var d = new Qcow2Format().open(clone, ImagePolicy.operator(), false, 0)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(SIZE);
            d.readFully(b, 0);
            ours = b.array();
        }
        for (int i = 0; i < SIZE; i++) {
            if (!uncertain[i] && (qemu[i] != expect[i] || ours[i] != expect[i])) {
                fail("run " + run + " (seed " + seed + ", flushed round " + flushed + "): byte " + i
                        + " lost: expected " + expect[i] + ", qemu " + qemu[i] + ", ours " + ours[i]);
            }
        }
    }
}
