package io.cowherd.cli;

import io.cowherd.Pool;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.domain.ClonedDomain;
import io.cowherd.domain.DomainCloneOptions;
import io.cowherd.domain.DomainCloner;
import io.cowherd.qcow2.Qcow2Backend;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import org.libvirt.Connect;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cowherd quickstart}: the whole job on an embedded default, needing nothing but the
 * build. Makes a small master, clones it into N virtual machines, writes into a few clones
 * and proves they stay isolated, and defines the machines in libvirt's {@code test:///default}
 * (or writes their domain XML when libvirt is not installed).
 */
@Command(name = "quickstart", description = "Demonstrate cowherd end to end on a small built-in master.")
final class QuickstartCommand implements Callable<Integer> {
    @Option(names = "--dir", paramLabel = "DIR", description = "Working directory, kept afterwards (default: a new "
            + "temporary one, removed at the end unless --keep).")
    Path dir;

    @Option(names = "--keep", description = "Keep the temporary working directory to look at it afterwards.")
    boolean keep;

    @Option(names = "--count", paramLabel = "N", defaultValue = "100", description = "Number of clones.")
    int count;

    @Option(names = "--size", paramLabel = "SIZE", defaultValue = "64M", description = "Master size.")
    String size;

    @Option(names = "--connect", paramLabel = "URI", defaultValue = "test:///default",
            description = "libvirt URI to define the clones in.")
    String connect;

    @Spec
    CommandLine.Model.CommandSpec spec;

    private PrintWriter out;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        if (count < 4) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--count must be at least 4 (three clones are written into, a fourth stays untouched)");
        }
        Path work = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("cowherd-quickstart-");
        try {
            return run(work);
        } finally {
            if (dir == null && !keep) {
                removeTree(work);
                say("removed the working directory %s (give --keep, or --dir DIR, to look at it afterwards)", work);
                out.flush();
            }
        }
    }

    private Integer run(Path work) throws Exception {
        long masterSize = Sizes.parse(size);
        say("cowherd quickstart in %s", work);

        // 1. A master: a small disk image with recognisable content, imported into a qcow2 pool.
        Path raw = work.resolve("golden.raw");
        writeMasterContent(raw, masterSize);
        long t0 = System.nanoTime();
        try (Pool pool = new Qcow2Backend().openPool(work.resolve("pool"))) {
            Volume master = pool.importMaster("golden", raw, "raw");
            Files.delete(raw);
            say("1. master: %s (%s, qcow2), imported in %s", master.path(), Sizes.human(masterSize), ms(t0));
            String masterHash = sha256(pool, master.name());

            // 2. N virtual machines, each on its own copy-on-write clone of the master.
            String xml = goldenDomainXml(master.path());
            // Another run's domains may still be defined on the connection: take the next free names.
            DomainCloneOptions options = DomainCloneOptions.builder().namePattern("golden-%03d").count(count)
                    .onNameConflict(DomainCloneOptions.NameConflict.SKIP).build();
            long t1 = System.nanoTime();
            List<ClonedDomain> domains;
            String where;
            if (DomainCloner.libvirtAvailable()) {
                Connect conn = DomainCloner.connect(connect);
                try {
                    domains = new DomainCloner(conn, pool).cloneXml(xml, options);
                    where = "defined in libvirt " + connect + " (" + conn.numOfDefinedDomains() + " defined domains there now)";
                    if (dir == null && !keep) {
                        // Their disks go with the working directory: so do their definitions.
                        for (ClonedDomain d : domains) {
                            conn.domainLookupByName(d.name()).undefine();
                        }
                        where += "; undefined again at the end, with their disks";
                    }
                } finally {
                    conn.close();
                }
            } else {
                Path xmlDir = Files.createDirectories(work.resolve("domains"));
                domains = new DomainCloner(null, pool).cloneToXmlFiles(xml, options, xmlDir);
                where = "libvirt is not installed: domain XML written to " + xmlDir;
            }
            double seconds = (System.nanoTime() - t1) / 1e9;
            say("2. %d virtual machines cloned in %s (%.0f per second), %s", domains.size(), ms(t1),
                    domains.size() / seconds, where);
            ClonedDomain first = domains.get(0);
            say("   e.g. %s: uuid %s, mac %s, disk %s", first.name(), first.uuid(), first.macs(),
                    first.disks().get(0).path().getFileName());
            long cloneBytes = 0;
            for (ClonedDomain d : domains) {
                cloneBytes += pool.info(d.disks().get(0).name()).actualSize();
            }
            say("   all %d disk clones together occupy %s on the host for %s of virtual disk", domains.size(),
                    Sizes.human(cloneBytes), Sizes.human(masterSize * domains.size()));

            // 3. Writes into three clones stay in those clones.
            List<String> written = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                String disk = domains.get(i).disks().get(0).name();
                try (VirtualDisk d = pool.open(disk, true)) {
                    byte[] note = ("written by " + domains.get(i).name() + " only\n").getBytes(StandardCharsets.UTF_8);
                    d.write(ByteBuffer.wrap(note), 1 << 20);
                    d.flush();
                }
                written.add(disk);
            }
            List<String> hashes = new ArrayList<>();
            for (String disk : written) {
                hashes.add(sha256(pool, disk));
            }
            boolean distinct = hashes.stream().distinct().count() == 3 && !hashes.contains(masterHash);
            String untouched = domains.get(3).disks().get(0).name();
            boolean siblingClean = sha256(pool, untouched).equals(masterHash);
            boolean masterClean = sha256(pool, master.name()).equals(masterHash);
            say("3. wrote into %s: each now differs from the master and from each other: %s; "
                    + "untouched clone %s still equals the master: %s; master unchanged: %s",
                    String.join(", ", written), yes(distinct), untouched, yes(siblingClean), yes(masterClean));
            if (!(distinct && siblingClean && masterClean)) {
                throw new IllegalStateException("isolation check failed");
            }
            if (dir != null || keep) {
                say("done. Inspect with: %s info --backing-chain %s; remove it all with: rm -rf %s", self(),
                        first.disks().get(0).path(), work);
            } else {
                say("done.");
            }
        }
        out.flush();
        return ExitCodes.OK;
    }

    /** How to run this very cowherd from anywhere: its jar's absolute path, or the command name. */
    private static String self() {
        try {
            Path code = Path.of(CowherdCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return code.toString().endsWith(".jar") ? "java -jar " + code : "cowherd";
        } catch (java.net.URISyntaxException | RuntimeException e) {
            return "cowherd";
        }
    }

    private static void removeTree(Path root) throws java.io.IOException {
        try (java.util.stream.Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private void say(String format, Object... args) {
        out.println(String.format(Locale.ROOT, format, args));
        out.flush();
    }

    private static String ms(long startNanos) {
        return String.format(Locale.ROOT, "%.1f ms", (System.nanoTime() - startNanos) / 1e6);
    }

    private static String yes(boolean b) {
        return b ? "yes" : "NO";
    }

    /** A stand-in for an installed system: a boot sector, some "files" and plenty of zeros. */
    private static void writeMasterContent(Path raw, long size) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(raw, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            Random r = new Random(2026);
            ByteBuffer boot = ByteBuffer.allocate(512);
            boot.put("cowherd quickstart master".getBytes(StandardCharsets.US_ASCII));
            boot.put(510, (byte) 0x55).put(511, (byte) 0xaa);
            ch.write(boot.clear(), 0);
            byte[] block = new byte[256 * 1024];
            for (long at = 1 << 20; at + block.length <= size; at += 4L << 20) {
                r.nextBytes(block);
                ch.write(ByteBuffer.wrap(block), at);
            }
            ch.truncate(size);
            if (ch.size() < size) {
                ch.write(ByteBuffer.allocate(1), size - 1);
            }
        }
    }

    private static String goldenDomainXml(Path disk) {
        return """
                <domain type='test'>
                  <name>golden</name>
                  <uuid>5f0d2d8c-1b6a-4c1e-9a65-1c2f1b3d4e5f</uuid>
                  <title>golden master</title>
                  <memory unit='MiB'>512</memory>
                  <vcpu>1</vcpu>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2'/>
                      <source file='%s'/>
                      <target dev='vda' bus='virtio'/>
                    </disk>
                    <interface type='network'>
                      <mac address='52:54:00:00:00:01'/>
                      <source network='default'/>
                      <model type='virtio'/>
                    </interface>
                  </devices>
                </domain>
                """.formatted(disk);
    }

    private static String sha256(Pool pool, String volume) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (VirtualDisk d = pool.open(volume, false)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            for (long at = 0; at < d.size(); at += buf.capacity()) {
                buf.clear().limit((int) Math.min(buf.capacity(), d.size() - at));
                d.readFully(buf, at);
                md.update(buf.flip());
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
