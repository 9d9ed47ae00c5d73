package io.cowherd.vhd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.spi.CheckReport;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault injection: a child JVM writes into a differencing clone and is killed with SIGKILL at a
 * random moment, {@code cowherd.crash.runs} times (30 by default). Every time the clone must
 * open, our check must find no corruption, every flushed write must read back, the write in
 * flight must show its old or its new bytes sector by sector, and the rest must be the master's.
 */
class VhdCrashTest {
    static final int SIZE = 6 * 1024 * 1024 + 512;
    static final int SLOTS = 40;
    static final int WRITE = 3000;

    @TempDir
    Path dir;

    /** Slots spread over every block, unaligned so that sectors get widened. */
    static long slotOffset(int i) {
        return 123 + (long) i * ((SIZE - WRITE - 200) / SLOTS);
    }

    static byte[] pattern(int slot, int round) {
        byte[] b = new byte[WRITE];
        new Random(slot * 1000L + round).nextBytes(b);
        return b;
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void killedWritersLeakButNeverCorrupt() throws Exception {
        int runs = Integer.getInteger("cowherd.crash.runs", 30);
        VhdFormat format = new VhdFormat();
        byte[] master = new byte[SIZE];
        new Random(1).nextBytes(master);
        Path base = dir.resolve("master.vhd");
        format.create(base, SIZE);
        try (VirtualDisk d = format.open(base, ImagePolicy.operator(), true, 0)) {
            d.write(ByteBuffer.wrap(master), 0);
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Random random = new Random(42);
        for (int run = 0; run < runs; run++) {
            Path clone = dir.resolve("clone-" + run + ".vhd");
            format.createOverlay(clone, base, "vhd", SIZE);
            Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    CrashWriter.class.getName(), clone.toString(), String.valueOf(SLOTS)).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            assertEquals("ready", out.readLine(), "the writer started");
            Thread.sleep(random.nextInt(250));
            // kill -9 from outside: Process.destroyForcibly would also close our end of its stdout,
            // and every line it printed is needed to know which writes were flushed.
            new ProcessBuilder("kill", "-9", String.valueOf(p.pid())).start().waitFor(30, TimeUnit.SECONDS);
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the writer died");
            int lastRound = -1;
            int lastSlot = -1;
            for (String line; (line = out.readLine()) != null;) {
                String[] f = line.split(" ");
                if (f.length == 3 && f[0].equals("flushed")) {
                    lastRound = Integer.parseInt(f[1]);
                    lastSlot = Integer.parseInt(f[2]);
                }
            }
            CheckReport r = format.check(clone, ImagePolicy.operator(), false);
            assertEquals(0, r.corruptions(), "run " + run + ": " + r.problems());
            byte[] seen = VhdPeerTest.readAll(clone);
            verify(run, master, seen, lastRound, lastSlot);
            format.check(clone, ImagePolicy.operator(), true);
            assertEquals(0, format.check(clone, ImagePolicy.operator(), false).exitCode());
            assertArrayEquals(seen, VhdPeerTest.readAll(clone), "repairing leaks changes no byte");
            Files.delete(clone);
        }
    }

    private static void verify(int run, byte[] master, byte[] seen, int lastRound, int lastSlot) {
        for (int i = 0; i < SLOTS; i++) {
            // the last flushed version of each slot, and the next one that may have been in flight
            int flushedRound = i <= lastSlot ? lastRound : lastRound - 1;
            byte[] durable = flushedRound < 0 ? Arrays.copyOfRange(master, (int) slotOffset(i),
                    (int) slotOffset(i) + WRITE) : pattern(i, flushedRound);
            byte[] inFlight = pattern(i, Math.max(0, flushedRound + 1));
            boolean next = i == (lastSlot + 1) % SLOTS;
            int at = (int) slotOffset(i);
            byte[] actual = Arrays.copyOfRange(seen, at, at + WRITE);
            if (!next) {
                assertArrayEquals(durable, actual, "run " + run + ": slot " + i + " holds its last flushed write");
                continue;
            }
            // A write torn by the kill splits at a guest sector boundary (the file's pages hold
            // whole sectors), so each guest sector the slot touches is all old or all new.
            for (int s = 0, e; s < WRITE; s = e) {
                e = Math.min(WRITE, s + 512 - (at + s) % 512);
                byte[] a = Arrays.copyOfRange(actual, s, e);
                assertTrue(Arrays.equals(a, Arrays.copyOfRange(durable, s, e))
                        || Arrays.equals(a, Arrays.copyOfRange(inFlight, s, e)),
                        "run " + run + ": slot " + i + " shows old or new bytes at " + s);
            }
        }
        // bytes outside every slot are the master's
        byte[] outside = seen.clone();
        byte[] masterOutside = master.clone();
        for (int i = 0; i < SLOTS; i++) {
            Arrays.fill(outside, (int) slotOffset(i), (int) slotOffset(i) + WRITE, (byte) 0);
            Arrays.fill(masterOutside, (int) slotOffset(i), (int) slotOffset(i) + WRITE, (byte) 0);
        }
        assertArrayEquals(masterOutside, outside, "run " + run + ": the rest is the master's");
    }
}
