package io.cowherd.benchmarks;

import io.cowherd.distribution.nbd.FileExportSource;
import io.cowherd.distribution.nbd.NbdExport;
import io.cowherd.distribution.nbd.NbdServer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Sequential reads of a complete master through cowherd's NBD server against qemu-nbd serving the
 * same file, each read by the same clients: nbdcopy (libnbd, its defaults: several connections
 * when the server allows multi-conn, as both do) to {@code null:}, and qemu-img convert to QEMU's
 * null-co driver (no disk writes in the figures). qemu-nbd runs read-only and persistent with its
 * defaults (page cache, thread pool) and {@code --shared=16} so that nbdcopy's connections are let in;
 * cowherd's server runs in this JVM on a FileExportSource. One warm-up round per
 * server and client is not counted; the median of ROUNDS is. Goal: cowherd at least 0.8x
 * qemu-nbd's throughput. Usage: {@code NbdVersusQemuNbd WORKDIR [SIZE_MIB=1024] [ROUNDS=3]}.
 */
public final class NbdVersusQemuNbd {
    private NbdVersusQemuNbd() {
    }

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        long mib = args.length > 1 ? Long.parseLong(args[1]) : 1024;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Files.createDirectories(work);
        Path file = work.resolve("master.raw");
        writeRandom(file, mib << 20);
        List<String[]> clients = new ArrayList<>();
        clients.add(new String[] {"nbdcopy", "nbdcopy", "URI", "null:"});
        clients.add(new String[] {"qemu-img convert", "qemu-img", "convert", "-n", "-f", "raw", "URI",
            "--target-image-opts", "driver=null-co,size=" + (mib << 20)});
        System.out.printf(Locale.ROOT, "NBD benchmark: %d MiB, sequential read of a complete file, median of %d (after 1 warm-up)%n",
                mib, rounds);
        for (String[] client : clients) {
            if (!onPath(client[1])) {
                System.out.printf(Locale.ROOT, "%s: not installed, skipped%n", client[0]);
                continue;
            }
            double ours;
            try (FileExportSource src = FileExportSource.open(file);
                    NbdServer server = NbdServer.start(work.resolve("cowherd.sock"), List.of(new NbdExport("master", "", src)))) {
                ours = median(client, server.uri("master"), rounds);
            }
            Path qsock = work.resolve("qemu.sock");
            Files.deleteIfExists(qsock);
            Process qemu = new ProcessBuilder("qemu-nbd", "-r", "-t", "-k", qsock.toString(), "-f", "raw", "--shared=16",
                    "-x", "master", file.toString()).redirectErrorStream(true)
                    .redirectOutput(work.resolve("qemu-nbd.log").toFile()).start();
            double theirs;
            try {
                for (int i = 0; i < 200 && !Files.exists(qsock) && qemu.isAlive(); i++) {
                    TimeUnit.MILLISECONDS.sleep(50);
                }
                if (!Files.exists(qsock)) {
                    throw new IOException("qemu-nbd did not listen on " + qsock + " (alive: " + qemu.isAlive() + "; "
                            + Files.readString(work.resolve("qemu-nbd.log")) + ")");
                }
                theirs = median(client, "nbd+unix:///master?socket=" + qsock, rounds);
            } finally {
                qemu.destroy();
                qemu.waitFor(10, TimeUnit.SECONDS);
            }
            double mb = mib;
            System.out.printf(Locale.ROOT, "%s: cowherd %.2f s (%.0f MiB/s), qemu-nbd %.2f s (%.0f MiB/s); "
                    + "throughput cowherd / qemu-nbd: %.2f (goal >= 0.8)%n", client[0], ours, mb / ours, theirs,
                    mb / theirs, theirs / ours);
        }
        Files.deleteIfExists(file);
    }

    private static double median(String[] client, String uri, int rounds) throws IOException, InterruptedException {
        List<Double> times = new ArrayList<>();
        for (int i = 0; i <= rounds; i++) {
            List<String> cmd = new ArrayList<>();
            for (int j = 1; j < client.length; j++) {
                cmd.add(client[j].equals("URI") ? uri : client[j]);
            }
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + out);
            }
            double s = (System.nanoTime() - t0) / 1e9;
            if (i > 0) { // round 0 warms the page cache and the JIT
                times.add(s);
            }
        }
        Collections.sort(times);
        return times.get(times.size() / 2);
    }

    private static void writeRandom(Path file, long size) throws IOException {
        SplittableRandom r = new SplittableRandom(17);
        byte[] block = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long done = 0; done < size; done += block.length) {
                for (int i = 0; i < block.length; i += 8) {
                    long v = r.nextLong();
                    for (int k = 0; k < 8; k++) {
                        block[i + k] = (byte) (v >>> (8 * k));
                    }
                }
                out.write(block, 0, (int) Math.min(block.length, size - done));
            }
        }
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
