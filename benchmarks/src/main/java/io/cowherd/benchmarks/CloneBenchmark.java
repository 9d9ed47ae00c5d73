package io.cowherd.benchmarks;

import io.cowherd.Pool;
import io.cowherd.Volume;
import io.cowherd.qcow2.Qcow2Backend;
import io.cowherd.qcow2.Qcow2Format;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Clone creation through the qcow2 backend's pool: one clone per call (each one a locked,
 * journaled, durable pool update) and batches of 100 under one lock. The master is an empty
 * qcow2 of {@code masterSize}; clone cost does not depend on the master's content.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CloneBenchmark {
    @Param({"20G"})
    public String masterSize;

    private Path dir;
    private Pool pool;
    private long counter;
    private final List<String> made = new ArrayList<>();

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("cowherd-jmh");
        Path master = dir.resolve("master.qcow2");
        new Qcow2Format().create(master, Sizes.parse(masterSize));
        pool = new Qcow2Backend().openPool(dir);
        pool.adoptMaster("master", master);
    }

    @TearDown(Level.Iteration)
    public void deleteClones() {
        for (String n : made) {
            pool.delete(n);
        }
        made.clear();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        pool.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** One clone per call. */
    @Benchmark
    public Volume oneClone() {
        String name = "c" + counter++;
        made.add(name);
        return pool.createClone("master", name);
    }

    /** One hundred clones per call, under one lock and one journal append. */
    @Benchmark
    @org.openjdk.jmh.annotations.OperationsPerInvocation(100)
    public List<Volume> hundredClones() {
        List<String> names = new ArrayList<>(100);
        for (int i = 0; i < 100; i++) {
            names.add("b" + counter++);
        }
        made.addAll(names);
        return pool.createClones("master", names);
    }
}
