package io.cowherd.examples;

import io.cowherd.Backends;
import io.cowherd.Capability;
import io.cowherd.CowBackend;
import io.cowherd.MasterInUseException;
import io.cowherd.Pool;
import io.cowherd.Pools;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.VolumeInfo;
import io.cowherd.domain.ClonedDomain;
import io.cowherd.domain.DomainCloneOptions;
import io.cowherd.domain.DomainCloner;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.libvirt.Connect;

/**
 * The README's tour of the Java API, as a program: a pool, a master, clones, a write, the
 * promise, a promoted clone, and domains cloned on libvirt's {@code test:///default} driver.
 * The region between the {@code tour} markers is the README's snippet, word for word.
 * Usage: {@code ApiTour [DIR]} (default: a new temporary directory).
 */
public final class ApiTour {
    private ApiTour() {
    }

    /** What the tour did, for the program's output and its test. */
    public record Result(List<Volume> clones, VolumeInfo info, String refusal, Volume promoted,
            List<ClonedDomain> vms, List<Volume> reopened) {
    }

    public static void main(String[] args) throws IOException {
        Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("cowherd-tour");
        Result r = run(dir);
        System.out.println("clones: " + r.clones().stream().map(Volume::name).toList());
        System.out.println("web-01: " + r.info().format() + " backed by " + r.info().backingFilename());
        System.out.println("refused: " + r.refusal());
        System.out.println("promoted: " + r.promoted());
        System.out.println("domains: " + r.vms().stream().map(ClonedDomain::name).toList());
        System.out.println("volumes: " + r.reopened().stream().map(Volume::name).toList());
    }

    /** Runs the tour in {@code dir}, which holds the golden image and the pool afterwards. */
    public static Result run(Path dir) throws IOException {
        Path golden = dir.resolve("golden.raw");
        Files.write(golden, new byte[4 << 20]); // a tiny master disk: 4 MiB of zeros
        Path poolDir = dir.resolve("pool");
        String goldenVmXml = "<domain type='test'><name>golden-vm</name><memory>65536</memory>"
                + "<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
                + "<driver name='qemu' type='raw'/><source file='" + golden + "'/><target dev='vda'/></disk>"
                + "<interface type='network'><source network='default'/></interface></devices></domain>";
        String refusal = null;
        Volume promoted = null;
        List<ClonedDomain> vms = new ArrayList<>();
        List<Volume> clones;
        VolumeInfo info;
        List<Volume> all;
        // tour:start
        CowBackend qcow2 = Backends.byName("qcow2");            // ServiceLoader; a miss lists what exists
        try (Pool pool = qcow2.openPool(poolDir)) {
            pool.importMaster("golden", golden, "raw");          // format stated, never guessed
            clones = pool.createClones("golden", List.of("web-01", "web-02"));
            try (VirtualDisk disk = pool.open("web-01", true)) { // guest-visible bytes
                disk.write(ByteBuffer.wrap("hello".getBytes(StandardCharsets.UTF_8)), 4096);
            }
            info = pool.info("web-01");                          // format, sizes, backing chain
            try {
                pool.delete("golden");                           // a master never changes under its clones
            } catch (MasterInUseException e) {
                refusal = e.getMessage();                        // names the clones and the ways out
            }
            if (pool.supports(Capability.PROMOTE)) {
                promoted = pool.promote("web-02");               // a master of its own now
            }
            if (DomainCloner.libvirtAvailable()) {               // libvirt0 installed
                Connect conn = DomainCloner.connect("test:///default");
                vms = new DomainCloner(conn, pool).cloneXml(goldenVmXml,
                        DomainCloneOptions.builder().namePattern("web-vm-%02d").count(3).build());
            }
        }
        try (Pool existing = Pools.open(poolDir)) {              // the pool names its own backend
            all = existing.volumes();
        }
        // tour:end
        return new Result(clones, info, refusal, promoted, vms, all);
    }
}
