package io.cowherd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.SessionOptions;
import io.cowherd.distribution.torrent.TorrentEngine;
import io.cowherd.distribution.torrent.TorrentEngines;
import io.cowherd.distribution.torrent.TorrentSession;
import io.cowherd.distribution.torrent.tracker.EmbeddedTracker;
import io.cowherd.testkit.PrivateLibvirtd;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.Connect;
import org.libvirt.Domain;
import picocli.CommandLine;

/**
 * Guests boot from clones of a master that is still streaming from a seed, then move to the
 * local master while they run. A real libvirtd (private, {@link PrivateLibvirtd}) and QEMU (TCG):
 * Debian's kernel with a busybox initramfs (from {@code scripts/install-test-peers.sh}) whose init
 * reads the disk and prints checksums on the serial console, once at boot and then every 2 s. A
 * seed sends a 48 MiB master at 1 MiB/s; {@code cowherd fetch --serve --pool POOL --connect URI}
 * makes it a streaming master of the pool at once. Three clones with a write of their own at the
 * start: {@code cowherd clone} makes two in the pool (one runs, one is defined and stopped), and one
 * is a qcow2 overlay made by hand on the export's URI (it runs). After the download the command
 * switches the pool's master to the fetched file and moves the running guests live (shallow copy
 * and pivot; they keep running and reading the same bytes after the export closed, and the pool
 * records its clone's new image); the stopped clone then boots from the local master.
 */
@Timeout(400)
class StreamBootLibvirtdTest {
    private static final Path GUEST = BusyboxGuest.DIR;
    private static final int MIB = 1 << 20;
    private static final int DISK_MIB = 48;
    private static final Pattern LINE = Pattern.compile("COWHERD-(BOOTED|ALIVE) (\\d+) head=([0-9a-f]{32}) tail=([0-9a-f]{32})");

    @TempDir
    Path dir;

    @Test
    void guestsBootFromAStreamingMasterAndMoveToTheLocalCopyWhileTheyRun() throws Exception {
        assertTrue(Files.isRegularFile(GUEST.resolve("vmlinuz")), GUEST + " has no guest kernel: run scripts/install-test-peers.sh");
        // libvirt's QEMU runs as libvirt-qemu: everything it opens must be reachable beyond root
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path initrd = initramfs();
        Path console = Files.createDirectories(dir.resolve("console")).resolve("ttyS0.log");
        Files.setPosixFilePermissions(console.getParent(), PosixFilePermissions.fromString("rwxrwxrwx"));

        byte[] master = new byte[DISK_MIB * MIB];
        new Random(5).nextBytes(master);
        Path disk = Files.write(Files.createDirectories(dir.resolve("src")).resolve("disk.raw"), master);
        Path golden = Bundle.builder().disk(disk, "raw").create(dir.resolve("seed/golden")).directory();

        try (EmbeddedTracker tracker = EmbeddedTracker.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), freePort()));
                PrivateLibvirtd daemon = PrivateLibvirtd.start(dir.resolve("libvirtd"))) {
            // the domains are defined before the master starts to arrive: libvirtd probes QEMU at each
            // define here (about 20-30 s each on a busy two-core machine without KVM), and the race this
            // test sets is the guests' boot against the download, not that
            Path pool = dir.resolve("pool");
            Path socket = pool.resolve(".streams/golden.sock");
            String exportUri = "nbd+unix:///disk.raw?socket=" + socket;
            Path clone = dir.resolve("clone.qcow2");
            Path poolClone = pool.resolve("c1.qcow2");
            Path stoppedClone = pool.resolve("c2.qcow2");
            Path poolConsole = console.resolveSibling("pool.log");
            Path stoppedConsole = console.resolveSibling("stopped.log");
            Connect conn = new Connect(daemon.uri());
            List<Domain> domains = new java.util.ArrayList<>();
            try {
                Domain dom = conn.domainDefineXML(domainXml("stream-boot", initrd, clone, exportUri, console));
                domains.add(dom);
                Domain onPool = conn.domainDefineXML(domainXml("stream-pool", initrd, poolClone, null, poolConsole));
                domains.add(onPool);
                Domain stopped = conn.domainDefineXML(domainXml("stream-stopped", initrd, stoppedClone, null,
                        stoppedConsole));
                domains.add(stopped);
                Metainfo m = Metainfo.create(golden, List.of(tracker.announceUrl()), 256 << 10, "test");
                tracker.track(m);
                TorrentEngine engine = TorrentEngines.named("libtorrent");
                InetAddress seedAt = InetAddress.getByName("127.0.4.1");
                try (TorrentSession seed = engine.seed(m, golden.getParent(), SessionOptions.on(seedAt).withRateLimits(0, MIB))) {
                    Path torrent = dir.resolve("golden.torrent");
                    m.save(torrent);
                    StringWriter fetchOut = new StringWriter();
                    Thread fetch = new Thread(() -> {
                        CommandLine cl = CowherdCommand.commandLine();
                        cl.setOut(new PrintWriter(fetchOut, true));
                        cl.setErr(new PrintWriter(new StringWriter(), true));
                        cl.execute("fetch", torrent.toString(), "--pool", pool.toString(), "--bind", "127.0.4.2",
                                "--serve", "--connect", daemon.uri(), "--quiet");
                    }, "cowherd-fetch-serve");
                    fetch.setDaemon(true); // it seeds until the JVM ends
                    fetch.start();
                    String uri = awaitOutput(fetchOut, "serving disk.raw (raw) at ", Duration.ofSeconds(60)).strip()
                            .substring("serving disk.raw (raw) at ".length());
                    assertEquals(exportUri, uri);
                    awaitOutput(fetchOut, "master golden of pool " + pool + " streams", Duration.ofSeconds(10));
                    // the clones, each with a write of its own at the start: one by hand on the export, two in the pool
                    CliTest.sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", uri, "-F", "raw", clone.toString());
                    CliTest.Run cloned = CliTest.cowherd("clone", pool.resolve("golden.qcow2").toString(), "c1", "c2");
                    assertEquals(0, cloned.exit(), cloned.err());
                    for (Path c : List.of(clone, poolClone, stoppedClone)) {
                        CliTest.sh(dir, "qemu-io", "-f", "qcow2", c.toString(), "-c", "write -q -P 0x5a 0 64k");
                    }
                    byte[] head = java.util.Arrays.copyOf(master, MIB);
                    java.util.Arrays.fill(head, 0, 64 << 10, (byte) 0x5a);
                    String headSum = md5(head, 0, MIB);
                    String tailSum = md5(master, (DISK_MIB - 4) * MIB, 4 * MIB);
                    dom.create();
                    onPool.create();
                    Path local = pool.resolve(".streams/golden/disk.raw");
                    for (Path c : List.of(console, poolConsole)) {
                        Matcher booted = awaitLine(c, "BOOTED", 0, Duration.ofSeconds(200));
                        assertFalse(Files.exists(local), "the guest booted before its master arrived (still disk.raw.part)");
                        assertEquals(headSum, booted.group(3), () -> "the guest read the clone's write and the master's bytes "
                                + "after it; console:\n" + consoleTail(c));
                        assertEquals(tailSum, booted.group(4), () -> "the guest read the end of the master through the "
                                + "stream; console:\n" + consoleTail(c));
                    }
                    int before = lastAlive(console);
                    int beforeOnPool = lastAlive(poolConsole);

                    // the download completes; the fetch switches the master and moves the running clones, then closes the export
                    Path localTop = dir.resolve("clone.local.qcow2");
                    Path poolTop = pool.resolve("c1.local.qcow2");
                    awaitOutput(fetchOut, "master golden now reads the fetched file", Duration.ofSeconds(300));
                    String out = fetchOut.toString();
                    assertTrue(out.contains("moved stream-boot vda onto the local master (running: copied and pivoted to "
                            + localTop + ")"), out);
                    assertTrue(out.contains("moved stream-pool vda onto the local master (running: copied and pivoted to "
                            + poolTop + ")"), out);
                    assertFalse(out.contains("moved stream-stopped"), "a stopped clone of the pool needs no move: " + out);
                    for (Domain d : List.of(dom, onPool)) {
                        assertEquals(1, d.isActive(), "the guest kept running");
                        String live = d.getXMLDesc(0);
                        assertTrue(live.contains(local.toString()), live);
                        assertFalse(live.contains("protocol='nbd'"), "no NBD left in the chain: " + live);
                    }
                    assertTrue(dom.getXMLDesc(2).contains("<source file='" + localTop + "'"), dom.getXMLDesc(2));
                    assertTrue(onPool.getXMLDesc(2).contains("<source file='" + poolTop + "'"), onPool.getXMLDesc(2));
                    assertFalse(Files.exists(clone), "the old top image, copied, is gone");
                    assertFalse(Files.exists(poolClone), "the pool clone's old top image, copied, is gone");
                    try (io.cowherd.Pool p = io.cowherd.Pools.open(pool)) {
                        assertEquals(poolTop, p.get("c1").path(), "the pool records the clone's new image");
                        assertEquals(".streams/golden/disk.raw", p.info("golden").backingFilename());
                    }
                    long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                    while (Files.exists(socket) && System.nanoTime() < until) {
                        Thread.sleep(100);
                    }
                    assertFalse(Files.exists(socket), "the export closed once QEMU left it");
                    String chain = CliTest.sh(dir, "qemu-img", "info", "-U", "--backing-chain", stoppedClone.toString());
                    assertTrue(chain.contains(local.toString()) && !chain.contains("nbd"), "the stopped clone reads the local "
                            + "master through the pool's master: " + chain);
                    for (Path c : List.of(console, poolConsole)) {
                        Matcher after = awaitLine(c, "ALIVE", (c == console ? before : beforeOnPool) + 1, Duration.ofSeconds(60));
                        assertEquals(headSum, after.group(3), "the clone's own write moved with it");
                        assertEquals(tailSum, after.group(4), "the local master reads the same bytes");
                    }
                    stopped.create();
                    Matcher late = awaitLine(stoppedConsole, "BOOTED", 0, Duration.ofSeconds(200));
                    assertEquals(headSum, late.group(3), "the stopped clone boots from the local master, its write its own");
                    assertEquals(tailSum, late.group(4));
                }
            } finally {
                for (Domain d : domains) {
                    if (d.isActive() == 1) {
                        d.destroy();
                    }
                    d.undefine();
                }
                conn.close();
            }
        }
    }

    /** Waits until {@code out} has a line starting with {@code prefix}; returns that line. */
    private static String awaitOutput(StringWriter out, String prefix, Duration timeout) throws InterruptedException {
        long until = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < until) {
            String line = out.toString().lines().filter(l -> l.startsWith(prefix)).findFirst().orElse(null);
            if (line != null) {
                return line;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no line starting with '" + prefix + "' in " + timeout.toSeconds() + " s:\n" + out);
    }

    /**
     * A domain on the qcow2 image {@code clone}; with {@code nbdBacking} (an export's URI) the
     * definition names the image's backing, as a user writes it for a clone made by hand; without,
     * libvirt reads the chain from the images (a pool's clone: clone, master's stand-in, export).
     */
    private static String domainXml(String name, Path initrd, Path clone, String nbdBacking, Path console) {
        String backing = "";
        if (nbdBacking != null) {
            io.cowherd.internal.nbd.NbdUri u = io.cowherd.internal.nbd.NbdUri.parse(nbdBacking).orElseThrow();
            backing = """
                    <backingStore type='network'><format type='raw'/>
                      <source protocol='nbd' name='%s'><host transport='unix' socket='%s'/></source>
                      <backingStore/></backingStore>""".formatted(u.export(), u.socket());
        }
        return """
                <domain type='qemu'><name>%s</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>
                  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel><initrd>%s</initrd>
                    <cmdline>console=ttyS0 panic=-1</cmdline></os>
                  <on_reboot>destroy</on_reboot>
                  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
                    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>%s
                      <target dev='vda' bus='virtio'/></disk>
                    <serial type='file'><source path='%s'/><target port='0'/></serial>
                  </devices></domain>""".formatted(name, GUEST.resolve("vmlinuz"), initrd, clone, backing, console);
    }

    /**
     * An initramfs: busybox, the virtio modules, and an init that prints the MD5 of the disk's first
     * MiB and last 4 MiB, read from the device each time (caches dropped), at boot and every 2 s.
     */
    private Path initramfs() throws IOException {
        String init = """
                i=0; while [ ! -b /dev/vda ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
                sums() {
                  echo 3 > /proc/sys/vm/drop_caches
                  echo "head=$(dd if=/dev/vda bs=1M count=1 2>/dev/null | md5sum | cut -c1-32) tail=$(dd if=/dev/vda bs=1M skip=%d count=4 2>/dev/null | md5sum | cut -c1-32)"
                }
                echo "COWHERD-BOOTED 0 $(sums)" > /dev/ttyS0
                n=0; while true; do sleep 2; n=$((n+1)); echo "COWHERD-ALIVE $n $(sums)" > /dev/ttyS0; done
                """.formatted(DISK_MIB - 4);
        return BusyboxGuest.initramfs(dir.resolve("initrd.cpio"), BusyboxGuest.VIRTIO, init);
    }

    /** Waits for a console line of {@code kind} numbered at least {@code atLeast}. */
    private static Matcher awaitLine(Path console, String kind, int atLeast, Duration timeout) throws Exception {
        long until = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < until) {
            if (Files.exists(console)) {
                Matcher found = null;
                Matcher mt = LINE.matcher(Files.readString(console, StandardCharsets.ISO_8859_1));
                while (mt.find()) {
                    if (mt.group(1).equals(kind) && Integer.parseInt(mt.group(2)) >= atLeast) {
                        found = mt;
                        break;
                    }
                }
                if (found != null) {
                    return found;
                }
            }
            Thread.sleep(200);
        }
        throw new AssertionError("no COWHERD-" + kind + " line numbered " + atLeast + " or more on the console in " + timeout.toSeconds()
                + " s:\n" + (Files.exists(console) ? tail(Files.readString(console, StandardCharsets.ISO_8859_1)) : "(no console file)"));
    }

    private static int lastAlive(Path console) throws IOException {
        int n = 0;
        Matcher mt = LINE.matcher(Files.readString(console, StandardCharsets.ISO_8859_1));
        while (mt.find()) {
            n = Math.max(n, Integer.parseInt(mt.group(2)));
        }
        return n;
    }

    private static String consoleTail(Path console) {
        try {
            return tail(Files.readString(console, StandardCharsets.ISO_8859_1));
        } catch (IOException e) {
            return "(console unreadable: " + e + ")";
        }
    }

    private static String tail(String s) {
        return s.length() > 3000 ? s.substring(s.length() - 3000) : s;
    }

    private static String md5(byte[] b, int off, int len) throws Exception {
        MessageDigest md = MessageDigest.getInstance("MD5");
        md.update(b, off, len);
        return HexFormat.of().formatHex(md.digest());
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
