package io.cowherd.benchmarks;

import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.qcow2.Qcow2Format;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Random 4 KiB reads and writes through {@link VirtualDisk} on a qcow2 clone of a fully written
 * 1 GiB master (uniformly random, 4 KiB-aligned offsets). For the same workload through QEMU's
 * code, see {@link RandomIoVersusQemuImg}, which runs {@code qemu-img bench} side by side.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgs = "-Xmx256m")
public class RandomIoBenchmark {
    private static final long SIZE = 1L << 30;

    private Path dir;
    private VirtualDisk clone;
    private final SplittableRandom random = new SplittableRandom(7);
    private final ByteBuffer buf = ByteBuffer.allocateDirect(4096);

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory("cowherd-jmh-io");
        Qcow2Format f = new Qcow2Format();
        Path master = dir.resolve("master.qcow2");
        f.create(master, SIZE);
        try (VirtualDisk m = f.open(master, ImagePolicy.operator(), true, 0)) {
            ByteBuffer mb = ByteBuffer.allocateDirect(1 << 20);
            for (long at = 0; at < SIZE; at += mb.capacity()) {
                mb.clear().put(0, (byte) (at >>> 20));
                m.write(mb, at);
            }
        }
        Path c = dir.resolve("clone.qcow2");
        f.createOverlay(c, master, "qcow2", SIZE);
        clone = f.open(c, ImagePolicy.operator(), true, 0);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        clone.close();
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private long offset() {
        return random.nextLong(SIZE / 4096) * 4096;
    }

    @Benchmark
    public int read4k() throws IOException {
        buf.clear();
        return clone.read(buf, offset());
    }

    @Benchmark
    public int write4k() throws IOException {
        buf.clear();
        return clone.write(buf, offset());
    }
}
