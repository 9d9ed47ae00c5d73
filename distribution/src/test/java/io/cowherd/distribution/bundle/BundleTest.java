package io.cowherd.distribution.bundle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.Backends;
import io.cowherd.PolicyViolationException;
import io.cowherd.Pool;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.internal.io.HostFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class BundleTest {
    private static final long SIZE = 64L << 20;

    @TempDir
    Path tmp;

    /** A 64 MiB raw image with data in two places and holes elsewhere. */
    private Path sparseRaw(String name) throws IOException {
        Path p = tmp.resolve(name);
        byte[] data = new byte[256 << 10];
        new Random(42).nextBytes(data);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(data), 1 << 20);
            ch.write(ByteBuffer.wrap(data), 40L << 20);
            ch.truncate(SIZE);
            ch.write(ByteBuffer.allocate(1), SIZE - 1);
        }
        return p;
    }

    private Bundle makeBundle() throws IOException {
        Path disk = sparseRaw("golden.raw");
        Path xml = Files.writeString(tmp.resolve("golden.xml"), "<domain type='kvm'><name>golden</name></domain>");
        Path nvram = Files.write(tmp.resolve("golden_VARS.fd"), new byte[] {1, 2, 3, 4});
        return Bundle.builder().disk(disk, "raw").domainXml(xml).nvram(nvram).create(tmp.resolve("bundles/golden"));
    }

    @Test
    void createRecordsSizesHashesAndVirtualSizeAndStaysSparse() throws IOException {
        Bundle b = makeBundle();
        BundleManifest m = Bundle.open(b.directory()).manifest();
        assertEquals(3, m.files().size());
        BundleFile disk = m.disks().get(0);
        assertEquals("golden.raw", disk.name());
        assertEquals("raw", disk.format());
        assertEquals(SIZE, disk.virtualSize());
        assertEquals(SIZE, disk.size());
        assertEquals(Bundle.sha256(tmp.resolve("golden.raw")), disk.sha256());
        assertEquals(FileRole.DOMAIN_XML, m.file("domain.xml").orElseThrow().role());
        assertEquals(FileRole.NVRAM, m.file("nvram.fd").orElseThrow().role());
        assertTrue(HostFiles.allocatedBytes(b.path(disk)) < SIZE / 4, "copy kept the holes");
        b.verify();
        try (var list = Files.list(tmp.resolve("bundles"))) {
            assertEquals(List.of(b.directory()), list.toList(), "no temporary directory left");
        }
    }

    @Test
    void verifyCatchesAChangedByte() throws IOException {
        Bundle b = makeBundle();
        Path disk = b.path(b.manifest().disks().get(0));
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {7}), 40L << 20);
        }
        BundleIntegrityException e = assertThrows(BundleIntegrityException.class, b::verify);
        assertEquals("sha256", e.field());
    }

    @Test
    void aDiskWithABackingFileIsRefused() throws IOException {
        Path base = tmp.resolve("base.qcow2");
        io.cowherd.spi.ImageFormats.byName("qcow2").create(base, 1 << 20);
        Path pool = tmp.resolve("pool");
        try (Pool p = Backends.byName("qcow2").openPool(pool)) {
            p.importMaster("m", base, "qcow2");
            p.createClone("m", "c");
            Path clone = p.info("c").location() == null ? null : Path.of(p.info("c").location());
            assertThrows(UnsupportedFeatureException.class,
                    () -> Bundle.builder().disk(clone, "qcow2").create(tmp.resolve("b")));
        }
        assertFalse(Files.exists(tmp.resolve("b")));
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void exportImportRoundTripKeepsBytesAndHoles(Compression c) throws IOException {
        Bundle b = makeBundle();
        Path archive = tmp.resolve("golden" + c.suffix());
        BundleArchive.export(b, archive, c);
        if (c != Compression.NONE) {
            assertTrue(Files.size(archive) < SIZE / 4, "compressed archive is small: " + Files.size(archive));
        }
        Bundle back = BundleArchive.importArchive(archive, tmp.resolve("host/golden"));
        back.verify();
        assertEquals(b.manifest(), back.manifest());
        for (BundleFile f : b.manifest().files()) {
            assertArrayEquals(Files.readAllBytes(b.path(f)), Files.readAllBytes(back.path(f)), f.name());
        }
        assertTrue(HostFiles.allocatedBytes(back.path(back.manifest().disks().get(0))) < SIZE / 4, "holes kept on import");
    }

    @Test
    void importIntoAPoolChecksHashesThenAddsAMaster() throws IOException {
        Bundle b = makeBundle();
        try (Pool pool = Backends.byName("qcow2").openPool(tmp.resolve("pool"))) {
            b.importInto(pool, "golden");
            assertEquals(SIZE, pool.info("golden").virtualSize());
            try (VirtualDisk d = pool.open("golden", false)) {
                ByteBuffer buf = ByteBuffer.allocate(16);
                d.readFully(buf, 40L << 20);
                byte[] expect = new byte[256 << 10];
                new Random(42).nextBytes(expect);
                assertArrayEquals(java.util.Arrays.copyOf(expect, 16), buf.array());
            }
            Path disk = b.path(b.manifest().disks().get(0));
            try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[] {9}), 3);
            }
            assertThrows(BundleIntegrityException.class, () -> b.importInto(pool, "golden2"));
            assertTrue(pool.find("golden2").isEmpty(), "nothing imported from a bundle that fails its hash");
        }
    }

    private Path hostileArchive(String entryName, byte linkFlag, boolean withManifestFirst) throws IOException {
        Path archive = tmp.resolve("hostile.tar");
        try (OutputStream out = Files.newOutputStream(archive); TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            byte[] data = "x".getBytes(StandardCharsets.UTF_8);
            if (withManifestFirst) {
                String sha = io.cowherd.distribution.internal.SparseWriter.sha256() == null ? "" : java.util.HexFormat.of()
                        .formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(data));
                byte[] m = new BundleManifest(List.of(new BundleFile("d.raw", FileRole.DISK, 1, sha, "raw", 1))).toBytes();
                TarArchiveEntry me = new TarArchiveEntry("b/" + BundleManifest.FILE_NAME);
                me.setSize(m.length);
                tar.putArchiveEntry(me);
                tar.write(m);
                tar.closeArchiveEntry();
            }
            TarArchiveEntry e = new TarArchiveEntry(entryName, linkFlag, true);
            if (linkFlag == TarArchiveEntry.LF_SYMLINK) {
                e.setLinkName("/etc/passwd");
            } else {
                e.setSize(data.length);
            }
            tar.putArchiveEntry(e);
            if (linkFlag != TarArchiveEntry.LF_SYMLINK) {
                tar.write(data);
            }
            tar.closeArchiveEntry();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return archive;
    }

    @Test
    void hostileArchivesAreRefusedAndLeaveNothing() throws IOException {
        Object[][] bad = {
            {"b/../../evil", TarArchiveEntry.LF_NORMAL},
            {"/etc/evil", TarArchiveEntry.LF_NORMAL},
            {"b/d.raw", TarArchiveEntry.LF_SYMLINK},
            {"b/other.raw", TarArchiveEntry.LF_NORMAL},
            {"c/d.raw", TarArchiveEntry.LF_NORMAL},
        };
        Files.createDirectories(tmp.resolve("in"));
        for (Object[] spec : bad) {
            Path a = hostileArchive((String) spec[0], (Byte) spec[1], true);
            assertThrows(PolicyViolationException.class, () -> BundleArchive.importArchive(a, tmp.resolve("in/b")), (String) spec[0]);
            assertFalse(Files.exists(tmp.resolve("in/b")));
            try (var list = Files.list(tmp.resolve("in"))) {
                assertEquals(0, list.count(), "no temporary directory left behind");
            }
            Files.delete(a);
        }
        Path noManifest = hostileArchive("b/d.raw", TarArchiveEntry.LF_NORMAL, false);
        assertThrows(io.cowherd.CorruptFileException.class, () -> BundleArchive.importArchive(noManifest, tmp.resolve("in/b")));
        assertFalse(Files.exists(tmp.resolve("evil")));
    }

    @Test
    void corruptedArchiveDataFailsItsHash() throws IOException {
        Bundle b = makeBundle();
        Path archive = tmp.resolve("g.tar");
        BundleArchive.export(b, archive, Compression.NONE);
        byte[] bytes = Files.readAllBytes(archive);
        // flip a byte inside the disk's data (its first data block sits 1 MiB into the disk)
        int at = indexOfNonZeroAfter(bytes, 3 * 512 + (1 << 20));
        bytes[at] ^= 0x55;
        Files.write(archive, bytes);
        assertThrows(BundleIntegrityException.class, () -> BundleArchive.importArchive(archive, tmp.resolve("in/golden")));
        assertFalse(Files.exists(tmp.resolve("in/golden")));
    }

    private static int indexOfNonZeroAfter(byte[] b, int from) {
        for (int i = from; i < b.length; i++) {
            if (b[i] != 0) {
                return i;
            }
        }
        throw new IllegalStateException("no data");
    }
}
