package io.cowherd.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The cowherd command as a user and a script see it: output, files made, exit codes. */
class CliTest {
    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {
    }

    /** Runs cowherd as its main method does (only the subcommand named is built). */
    static Run cowherd(String... args) {
        CommandLine cl = CowherdCommand.commandLine(args);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    static String sh(Path cwd, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    private Path rawMaster() throws IOException {
        byte[] b = new byte[3 << 20];
        new Random(1).nextBytes(b);
        return Files.write(dir.resolve("golden.raw"), b);
    }

    /** Subcommands, each once (picocli lists a command under each of its aliases too). */
    private static long commands(CommandLine cl) {
        return cl.getSubcommands().values().stream().distinct().count();
    }

    @Test
    void buildsOnlyTheSubcommandNamedAndEveryOneForTheHelp() {
        assertEquals(java.util.Set.of("fetch"), CowherdCommand.commandLine(new String[] {"-v", "fetch", "--help"}).getSubcommands().keySet());
        assertEquals(CowherdCommand.SUBCOMMANDS.size(), commands(CowherdCommand.commandLine(new String[] {"--help"})));
        assertEquals(CowherdCommand.SUBCOMMANDS.size(), commands(CowherdCommand.commandLine(new String[] {"nosuch"})));
        assertEquals(java.util.Set.of("pool"), java.util.Set.copyOf(CowherdCommand.commandLine(new String[] {"lvm", "status"})
                .getSubcommands().values().stream().map(CommandLine::getCommandName).toList()), "an alias builds its command only");

        Run help = cowherd("--help");
        assertEquals(0, help.exit());
        for (String name : new String[] {"info", "clone", "bundle", "seed", "fetch", "tracker", "help"}) {
            assertTrue(help.out().contains("\n  " + name + " "), name + " listed:\n" + help.out());
        }
        Run helpFetch = cowherd("help", "fetch");
        assertEquals(0, helpFetch.exit(), helpFetch.err());
        assertTrue(helpFetch.out().startsWith("Usage: cowherd fetch"), helpFetch.out());
        Run usage = cowherd("-v", "fetch");
        assertEquals(ExitCodes.USAGE, usage.exit());
        assertTrue(usage.err().contains("Try 'cowherd fetch --help'"), usage.err());
        Run unknown = cowherd("nosuch");
        assertEquals(ExitCodes.USAGE, unknown.exit());
        assertTrue(unknown.err().contains("nosuch"), unknown.err());
    }

    @Test
    void quietPrintsResultsAndErrorsOnly() throws Exception {
        Path master = rawMaster();
        Path pool = dir.resolve("pool");
        Run loud = cowherd("clone", "-p", "--count", "2", "--into", pool.toString(), master.toString());
        assertEquals(0, loud.exit(), loud.err());
        assertTrue(loud.err().contains("clone(s) of golden"), loud.err());
        assertTrue(loud.err().contains("import: 100%"), "progress on a pipe:\n" + loud.err());

        Run quiet = cowherd("clone", "-p", "--quiet", "--name-pattern", "db-%02d", "--count", "2", "--into",
                pool.toString(), pool.resolve("golden.qcow2").toString());
        assertEquals(0, quiet.exit(), quiet.err());
        assertEquals("", quiet.err());
        assertEquals(2, quiet.out().lines().count(), "the result is still printed: " + quiet.out());

        Path unsigned = Files.write(dir.resolve("plain.img"), new byte[65536]);
        Run warned = cowherd("convert", "-p", "-O", "qcow2", unsigned.toString(), dir.resolve("a.qcow2").toString());
        assertTrue(warned.err().contains("warning: ") && warned.err().contains("convert: 100%"), warned.err());
        Run silent = cowherd("-q", "convert", "-p", "-O", "qcow2", unsigned.toString(), dir.resolve("b.qcow2").toString());
        assertEquals(0, silent.exit(), silent.err());
        assertEquals("", silent.err(), "no warning, no progress before the command name either");

        Run failed = cowherd("-q", "info", dir.resolve("missing.qcow2").toString());
        assertEquals(ExitCodes.NOT_FOUND, failed.exit());
        assertTrue(failed.err().contains("missing.qcow2"), "errors still print: " + failed.err());
    }

    @Test
    void commitAndRebaseShowProgressOnAPipe() throws Exception {
        Path base = dir.resolve("base.qcow2");
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "4M");
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2");
        sh(dir, "qemu-io", "-c", "write -P 0x33 64k 128k", "top.qcow2");
        Run rebase = cowherd("rebase", "-p", "-b", "", dir.resolve("top.qcow2").toString());
        assertEquals(0, rebase.exit(), rebase.err());
        assertTrue(rebase.err().contains("rebase: 100%") && !rebase.err().contains("\r"), rebase.err());
        sh(dir, "qemu-img", "rebase", "-u", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2");
        Run commit = cowherd("commit", "-p", dir.resolve("top.qcow2").toString());
        assertEquals(0, commit.exit(), commit.err());
        assertTrue(commit.err().contains("commit: 100%"), commit.err());
        assertTrue(sh(dir, "qemu-io", "-c", "read -P 0x33 64k 128k", "base.qcow2").contains("read 131072/131072"));
    }

    @Test
    void cloneByCountIntoAPoolThenInfoAsJson() throws Exception {
        Path master = rawMaster();
        Path pool = dir.resolve("pool");
        Run r = cowherd("clone", "--count", "3", "--name-pattern", "web-%02d", "--into", pool.toString(), master.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals(3, r.out().lines().count(), r.out());
        assertTrue(Files.exists(pool.resolve("web-03.qcow2")));
        sh(pool, "qemu-img", "check", "-f", "qcow2", "web-02.qcow2");
        sh(pool, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", "web-01.qcow2", master.toString());

        Run info = cowherd("info", "--output=json", pool.resolve("web-01.qcow2").toString());
        assertEquals(0, info.exit(), info.err());
        for (String key : new String[] {"\"format\": \"qcow2\"", "\"virtual-size\": " + (3 << 20), "\"actual-size\": ",
            "\"cluster-size\": 65536", "\"backing-filename\": \"golden.qcow2\"", "\"backing-filename-format\": \"qcow2\"",
            "\"full-backing-filename\": \"" + pool.resolve("golden.qcow2") + "\""}) {
            assertTrue(info.out().contains(key), key + " in\n" + info.out());
        }
        Run human = cowherd("info", pool.resolve("web-01.qcow2").toString());
        assertTrue(human.out().contains("backing file: golden.qcow2"), human.out());

        Run named = cowherd("clone", pool.resolve("golden.qcow2").toString(), "db-1", "db-2.qcow2");
        assertEquals(0, named.exit(), named.err());
        assertTrue(Files.exists(pool.resolve("db-2.qcow2")));
        Run list = cowherd("volumes", pool.toString());
        assertEquals(1 + 1 + 5, list.out().lines().count(), list.out());
    }

    @Test
    void lvmCommandsNameAMissingVolumeGroupAndRefuseBadInput() {
        // The pool commands themselves run in User-mode Linux in backend-lvm; here, what needs no kernel.
        Run status = cowherd("lvm", "status", "/dev/cowherd-no-such-vg");
        assertEquals(ExitCodes.NOT_FOUND, status.exit(), status.err());
        assertTrue(status.err().contains("cowherd-no-such-vg") && status.err().contains("vgcreate"), status.err());
        Run bad = cowherd("lvm", "status", "/srv/pool");
        assertEquals(ExitCodes.NOT_FOUND, bad.exit(), bad.err());
        assertTrue(bad.err().contains("/dev/VG"), bad.err());
        Run none = cowherd("lvm");
        assertEquals(ExitCodes.USAGE, none.exit(), none.err());
        assertTrue(none.err().contains("libvirt-define"), none.err());
    }

    @Test
    void convertFlattensQemuChainsByteIdentical() throws Exception {
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "base.qcow2", "4M");
        sh(dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 3M", "base.qcow2");
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2");
        sh(dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1000 100000", "-c", "write -z 2M 64k", "top.qcow2");
        sh(dir, "qemu-img", "convert", "-f", "qcow2", "-O", "raw", "top.qcow2", "qemu.raw");
        Run r = cowherd("convert", "-f", "qcow2", "-O", "raw", dir.resolve("top.qcow2").toString(),
                dir.resolve("ours.raw").toString());
        assertEquals(0, r.exit(), r.err());
        assertArrayEquals(Files.readAllBytes(dir.resolve("qemu.raw")), Files.readAllBytes(dir.resolve("ours.raw")));

        Run q = cowherd("convert", "-O", "qcow2", dir.resolve("top.qcow2").toString(), dir.resolve("flat.qcow2").toString());
        assertEquals(0, q.exit(), q.err());
        sh(dir, "qemu-img", "check", "-f", "qcow2", "flat.qcow2");
        sh(dir, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", "flat.qcow2", "qemu.raw");
        assertEquals(ExitCodes.CONFLICT, cowherd("convert", "-O", "raw", dir.resolve("top.qcow2").toString(),
                dir.resolve("ours.raw").toString()).exit(), "never overwrites");
    }

    @Test
    void exitCodesAndOneSentenceErrors() throws Exception {
        Run usage = cowherd("clone", "--no-such-flag");
        assertEquals(ExitCodes.USAGE, usage.exit());
        assertTrue(usage.err().startsWith("cowherd: "), usage.err());

        Run missing = cowherd("info", dir.resolve("nope.qcow2").toString());
        assertEquals(ExitCodes.NOT_FOUND, missing.exit());
        assertEquals(1, missing.err().lines().count(), missing.err());

        Path junk = Files.write(dir.resolve("junk.qcow2"), new byte[4096]);
        Run wrong = cowherd("info", "-f", "qcow2", junk.toString());
        assertEquals(ExitCodes.CORRUPT, wrong.exit(), wrong.err());
        assertTrue(wrong.err().contains(junk.toString()), wrong.err());

        Path master = rawMaster();
        Path pool = dir.resolve("pool");
        assertEquals(0, cowherd("clone", "--into", pool.toString(), master.toString(), "c1").exit());
        Run inUse = cowherd("delete", "--pool", pool.toString(), "golden");
        assertEquals(ExitCodes.CONFLICT, inUse.exit(), inUse.err());
        assertTrue(inUse.err().contains("c1"), inUse.err());
        assertEquals(ExitCodes.NOT_FOUND, cowherd("clone", "--backend", "nope", master.toString(), "x").exit());

        // A backing file outside the pool is refused when the image is cloned into a pool.
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "outside.qcow2", "1M");
        sh(pool, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "../outside.qcow2", "-F", "qcow2", "sneaky.qcow2");
        Run sneaky = cowherd("clone", pool.resolve("sneaky.qcow2").toString(), "s1");
        assertEquals(ExitCodes.UNSAFE, sneaky.exit(), sneaky.err());
    }

    @Test
    void vhdThroughTheCommandLine() throws Exception {
        Path master = rawMaster();
        Run convert = cowherd("convert", "-f", "raw", "-O", "vhd", master.toString(), dir.resolve("golden.vhd").toString());
        assertEquals(0, convert.exit(), convert.err());
        sh(dir, "qemu-img", "compare", "-f", "vpc", "-F", "raw", "golden.vhd", master.toString());
        Run info = cowherd("info", "--output=json", dir.resolve("golden.vhd").toString());
        assertTrue(info.out().contains("\"format\": \"vhd\""), info.out());
        Run clone = cowherd("clone", "--backend", "vhd", dir.resolve("golden.vhd").toString(), "web-1");
        assertEquals(0, clone.exit(), clone.err());
        Run chain = cowherd("info", "--backing-chain", dir.resolve("web-1.vhd").toString());
        assertTrue(chain.out().contains("backing file: golden.vhd"), chain.out());
        assertEquals(0, cowherd("check", dir.resolve("web-1.vhd").toString()).exit());
        sh(dir, "vhdiinfo", "web-1.vhd");

        // -O vhd -B PARENT: a differencing disk holding only what differs from PARENT.
        byte[] changed = Files.readAllBytes(master);
        java.util.Arrays.fill(changed, 5000, 9000, (byte) 0x42);
        Path changedRaw = Files.write(dir.resolve("changed.raw"), changed);
        Run delta = cowherd("convert", "-f", "raw", "-O", "vhd", "-B", dir.resolve("golden.vhd").toString(), "-F", "vhd",
                changedRaw.toString(), dir.resolve("delta.vhd").toString());
        assertEquals(0, delta.exit(), delta.err());
        sh(dir, "vhdiinfo", "delta.vhd");
        // One 2 MiB VHD block holds the change; the other block of the 3 MiB disk stays with the parent.
        assertTrue(Files.size(dir.resolve("delta.vhd")) < changed.length, "only the differing block is stored");
        assertEquals(0, cowherd("convert", "-f", "vhd", "-O", "raw", dir.resolve("delta.vhd").toString(),
                dir.resolve("delta.raw").toString()).exit());
        org.junit.jupiter.api.Assertions.assertArrayEquals(changed, Files.readAllBytes(dir.resolve("delta.raw")));
    }

    @Test
    void qcow2MaintenanceCommandsFollowQemuImg() throws Exception {
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "4M");
        sh(dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 4M", "base.qcow2");
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2");
        sh(dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1000 100000", "top.qcow2");
        sh(dir, "qemu-img", "convert", "-O", "raw", "top.qcow2", "expect.raw");
        Path top = dir.resolve("top.qcow2");
        Run check = cowherd("check", top.toString());
        assertEquals(0, check.exit(), check.out() + check.err());
        assertTrue(check.out().contains("No errors were found on the image."), check.out());
        assertEquals(0, cowherd("resize", top.toString(), "+1M").exit());
        assertTrue(cowherd("info", "--output=json", top.toString()).out().contains("\"virtual-size\": " + (5 << 20)));
        assertEquals(ExitCodes.UNSUPPORTED, cowherd("resize", top.toString(), "1M").exit(), "shrinking is refused");
        assertEquals(0, cowherd("rebase", "-b", "", top.toString()).exit());
        sh(dir, "qemu-img", "check", "top.qcow2");
        assertTrue(!sh(dir, "qemu-img", "info", "top.qcow2").contains("backing file"));
        sh(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "top.qcow2", "-F", "qcow2", "upper.qcow2");
        sh(dir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x22 0 4096", "upper.qcow2");
        assertEquals(0, cowherd("commit", dir.resolve("upper.qcow2").toString()).exit());
        sh(dir, "qemu-img", "check", "top.qcow2");
        sh(dir, "qemu-io", "-f", "qcow2", "-c", "read -P 0x22 0 4096", "top.qcow2");
        Run compressed = cowherd("convert", "-c", "-O", "qcow2", top.toString(), dir.resolve("small.qcow2").toString());
        assertEquals(0, compressed.exit(), compressed.err());
        sh(dir, "qemu-img", "compare", "small.qcow2", "top.qcow2");
        Run delta = cowherd("convert", "-O", "qcow2", "-B", dir.resolve("small.qcow2").toString(), "-F", "qcow2",
                top.toString(), dir.resolve("delta.qcow2").toString());
        assertEquals(0, delta.exit(), delta.err());
        sh(dir, "qemu-img", "compare", "delta.qcow2", "top.qcow2");
    }

    @Test
    void quickstartRunsTheWholeJob() {
        Run r = cowherd("quickstart", "--dir", dir.resolve("qs").toString(), "--count", "5", "--size", "8M");
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("5 virtual machines cloned"), r.out());
        assertTrue(r.out().contains("from each other: yes") && r.out().contains("still equals the master: yes")
                && r.out().contains("master unchanged: yes"), r.out());
        // The hint it prints works from wherever the user stands: run it.
        String hint = r.out().lines().filter(l -> l.startsWith("done. Inspect with: ")).findFirst().orElseThrow();
        String[] cmd = hint.substring("done. Inspect with: ".length(), hint.indexOf(';')).split(" ");
        Run inspect = cowherd(java.util.Arrays.copyOfRange(cmd, java.util.Arrays.asList(cmd).indexOf("info"), cmd.length));
        assertEquals(0, inspect.exit(), inspect.err());
        assertTrue(Files.isDirectory(dir.resolve("qs")), "--dir is kept");
    }

    @Test
    void quickstartRemovesItsTemporaryDirectory() throws Exception {
        Run r = cowherd("quickstart", "--count", "4", "--size", "4M");
        assertEquals(0, r.exit(), r.out() + r.err());
        String line = r.out().lines().filter(l -> l.startsWith("removed the working directory ")).findFirst().orElseThrow();
        Path work = Path.of(line.substring("removed the working directory ".length(), line.indexOf(" (")));
        assertFalse(Files.exists(work), work + " is gone");
    }

    @Test
    void domainCloneFromXmlWithoutLibvirtAndOnTestDriver() throws Exception {
        Path master = rawMaster();
        Path pool = Files.createDirectories(dir.resolve("pool"));
        String xml = """
                <domain type='kvm'><name>golden</name><memory unit='MiB'>256</memory>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/><target dev='vda'/></disk>
                    <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>
                  </devices></domain>
                """.formatted(master);
        Path xmlFile = Files.writeString(dir.resolve("golden.xml"), xml);
        Path out = dir.resolve("out");
        Run files = cowherd("domain", "clone", "--xml", xmlFile.toString(), "--count", "2", "--name-pattern", "web-%02d",
                "--pool", pool.toString(), "--output-dir", out.toString());
        assertEquals(0, files.exit(), files.err());
        String web1 = Files.readString(out.resolve("web-01.xml"));
        assertTrue(web1.contains("<name>web-01</name>") && web1.contains(pool.resolve("web-01-vda.qcow2").toString())
                && web1.contains("type=\"qcow2\"") || web1.contains("type='qcow2'"), web1);
        sh(pool, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", "web-02-vda.qcow2", master.toString());

        Run defined = cowherd("domain", "clone", "--connect", "test:///default", "--xml", xmlFile.toString(), "--count", "2",
                "--name-pattern", "db-%d", "--pool", dir.resolve("pool2").toString());
        assertEquals(0, defined.exit(), defined.err());
        assertEquals(2, defined.out().lines().count(), defined.out());
        assertTrue(defined.out().startsWith("db-1 "), defined.out());
        // The test driver's own domain has a disk without a stated format: refused, never guessed.
        Run unstated = cowherd("domain", "clone", "--connect", "test:///default", "--domain", "test", "--pool", pool.toString());
        assertTrue(unstated.exit() >= 2 && unstated.err().contains("never guesses"), unstated.err());
        Run nope = cowherd("domain", "clone", "--connect", "test:///default", "--domain", "nope", "--pool", pool.toString());
        assertEquals(ExitCodes.NOT_FOUND, nope.exit(), nope.err());
        assertEquals(1, nope.err().lines().count(), "one error line, libvirt's own not printed first: " + nope.err());
    }

    @Test
    void domainCloneGivesEachCloneItsIdentity() throws Exception {
        Path master = rawMaster();
        String xml = """
                <domain type='kvm'><name>golden</name><memory unit='MiB'>256</memory>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/><target dev='vda'/></disk>
                  </devices></domain>
                """.formatted(master);
        Path xmlFile = Files.writeString(dir.resolve("golden.xml"), xml);
        Path out = dir.resolve("xml");
        Run r = cowherd("domain", "clone", "--xml", xmlFile.toString(), "--count", "2", "--name-pattern", "vm-%d",
                "--hostname", "web-%02d", "--cloud-init", "--credential", "firstboot.locale=C.UTF-8", "--pool",
                dir.resolve("pool").toString(), "--output-dir", out.toString(), "--output=json");
        assertEquals(0, r.exit(), r.err());
        var clones = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertEquals("web-02", clones.get(1).get("hostname").asText());
        String vm2 = Files.readString(out.resolve("vm-2.xml"));
        assertTrue(vm2.contains("ds=nocloud;i=" + clones.get(1).get("uuid").asText() + ";h=web-02"), vm2);
        assertTrue(vm2.contains("io.systemd.credential:system.hostname=web-02")
                && vm2.contains("io.systemd.credential:firstboot.locale=C.UTF-8"), vm2);

        Run bad = cowherd("domain", "clone", "--xml", xmlFile.toString(), "--credential", "novalue", "--output-dir",
                dir.resolve("x").toString());
        assertEquals(ExitCodes.USAGE, bad.exit(), bad.err());
        Run badHost = cowherd("domain", "clone", "--xml", xmlFile.toString(), "--hostname", "under_score", "--output-dir",
                dir.resolve("y").toString());
        assertEquals(ExitCodes.USAGE, badHost.exit(), badHost.err());
        assertTrue(badHost.err().contains("not a hostname"), badHost.err());
    }

    @Test
    void domainCloneBatchesFromOneGolden() throws Exception {
        Path master = rawMaster();
        Path pool = dir.resolve("batches");
        String xml = """
                <domain type='kvm'><name>golden</name><memory unit='MiB'>256</memory>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/><target dev='vda'/></disk>
                    <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>
                  </devices></domain>
                """.formatted(master);
        Path xmlFile = Files.writeString(dir.resolve("golden.xml"), xml);
        String[] batch = {"domain", "clone", "--connect", "test:///default", "--xml", xmlFile.toString(), "--count", "2",
            "--name-pattern", "g-%d", "--pool", pool.toString()};
        Run first = cowherd(batch);
        assertEquals(0, first.exit(), first.err());
        assertTrue(first.out().startsWith("g-1 uuid=") && first.out().contains(" mac=52:54:00:")
                && first.out().contains(" disk=" + pool.resolve("g-1-vda.qcow2")) && first.out().contains(" state=defined"),
                first.out());

        Run again = cowherd(batch);
        assertEquals(ExitCodes.CONFLICT, again.exit(), again.err());
        assertTrue(again.err().contains("--skip-taken") && again.err().contains("'g-1"), again.err());

        Run skip = cowherd(java.util.stream.Stream.concat(java.util.Arrays.stream(batch), java.util.stream.Stream.of(
                "--skip-taken")).toArray(String[]::new));
        assertEquals(0, skip.exit(), skip.err());
        assertTrue(skip.out().startsWith("g-3 ") && skip.out().contains("\ng-4 "), skip.out());

        Run json = cowherd("domain", "clone", "--connect", "test:///default", "--xml", xmlFile.toString(), "--count", "1",
                "--name-pattern", "g-%d", "--first-index", "10", "--master", "golden-vda", "--pool", pool.toString(),
                "--output=json");
        assertEquals(0, json.exit(), json.err());
        var clones = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.out());
        assertEquals("g-10", clones.get(0).get("name").asText());
        assertEquals(pool.resolve("g-10-vda.qcow2").toString(), clones.get(0).get("disks").get(0).asText());
        assertTrue(clones.get(0).get("macs").get(0).asText().startsWith("52:54:00:"), json.out());
        assertTrue(java.util.UUID.fromString(clones.get(0).get("uuid").asText()) != null);

        // Every batch cloned from the one master its first batch imported.
        Run volumes = cowherd("volumes", pool.toString());
        assertEquals(1, volumes.out().lines().filter(l -> l.contains(" master ")).count(), volumes.out());
        assertEquals(5, volumes.out().lines().filter(l -> l.contains(" clone ")).count(), volumes.out());
        Run noMaster = cowherd("domain", "clone", "--connect", "test:///default", "--xml", xmlFile.toString(),
                "--first-index", "20", "--name-pattern", "g-%d", "--master", "nope", "--pool", pool.toString());
        assertEquals(ExitCodes.NOT_FOUND, noMaster.exit(), noMaster.err());

        // The test driver's own domain names a disk file that does not exist: no pool appears beside it.
        Run test = cowherd("domain", "clone", "--connect", "test:///default", "--domain", "test");
        assertEquals(ExitCodes.NOT_FOUND, test.exit(), test.err());
        assertFalse(Files.exists(Path.of("/guest")), "no pool is made in a directory that does not exist");
    }
}
