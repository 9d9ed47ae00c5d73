package io.cowherd.distribution.torrent.libtorrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.JarURLConnection;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-user cache of libtorrent4j's native library: reused when intact, replaced when not, never in a shared directory. */
class LibtorrentNativeTest {
    @TempDir
    Path tmp;

    private static URL resource() {
        URL url = LibtorrentNativeTest.class.getClassLoader().getResource(LibtorrentNative.RESOURCE);
        assertNotNull(url, "libtorrent4j-linux is on the test class path");
        return url;
    }

    @Test
    void copiesOnceThenReusesTheCopyWhileItMatchesTheJarEntry() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("cache"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        JarURLConnection jar = (JarURLConnection) resource().openConnection();
        jar.setUseCaches(false);
        long size = jar.getJarEntry().getSize();
        long crc = jar.getJarEntry().getCrc();

        Path first = LibtorrentNative.cachedCopy(resource(), dir);
        assertEquals(size, Files.size(first));
        assertEquals(crc, crcOf(first));
        assertTrue(first.getFileName().toString().contains(String.format("%08x", crc)), first.toString());
        Files.setLastModifiedTime(first, FileTime.from(Instant.parse("2001-01-01T00:00:00Z")));

        Path again = LibtorrentNative.cachedCopy(resource(), dir);
        assertEquals(first, again);
        assertEquals(Instant.parse("2001-01-01T00:00:00Z"), Files.getLastModifiedTime(again).toInstant(), "an intact copy is not rewritten");

        try (FileChannel ch = FileChannel.open(first, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {0x42, 0x42, 0x42, 0x42}), size / 2); // same size, damaged
        }
        Path repaired = LibtorrentNative.cachedCopy(resource(), dir);
        assertEquals(first, repaired);
        assertEquals(crc, crcOf(repaired), "a damaged copy is replaced");
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no .part file left behind");
        }
    }

    @Test
    void refusesADirectoryOthersCanWrite() throws Exception {
        Path shared = Files.createDirectory(tmp.resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        String before = System.getProperty(LibtorrentNative.CACHE_PROPERTY);
        try {
            System.setProperty(LibtorrentNative.CACHE_PROPERTY, shared.toString());
            assertNull(LibtorrentNative.cacheDirectory());
            Path fresh = tmp.resolve("fresh");
            System.setProperty(LibtorrentNative.CACHE_PROPERTY, fresh.toString());
            assertEquals(fresh, LibtorrentNative.cacheDirectory());
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)));
        } finally {
            if (before == null) {
                System.clearProperty(LibtorrentNative.CACHE_PROPERTY);
            } else {
                System.setProperty(LibtorrentNative.CACHE_PROPERTY, before);
            }
        }
    }

    private static long crcOf(Path file) throws Exception {
        CRC32 c = new CRC32();
        c.update(Files.readAllBytes(file));
        return c.getValue();
    }
}
