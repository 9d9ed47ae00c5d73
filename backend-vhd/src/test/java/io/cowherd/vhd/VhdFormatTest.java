package io.cowherd.vhd;

import static io.cowherd.vhd.VhdPeerTest.readAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.CorruptImageException;
import io.cowherd.ImagePolicy;
import io.cowherd.UnsafeBackingException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.VolumeInfo;
import io.cowherd.spi.CheckReport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Format operations (overlays, commit, resize, rebase, check) and hostile metadata. */
class VhdFormatTest {
    private static final int SIZE = 3 * 1024 * 1024 + 1024;
    private static final VhdFormat FORMAT = new VhdFormat();
    private static final ImagePolicy ANY = ImagePolicy.operator();

    @TempDir
    Path dir;

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private Path base(byte[] content) throws IOException {
        Path base = dir.resolve("base.vhd");
        FORMAT.create(base, content.length);
        try (VirtualDisk d = FORMAT.open(base, ANY, true, 0)) {
            d.write(ByteBuffer.wrap(content), 0);
        }
        return base;
    }

    private static void write(Path image, byte[] data, long at, byte[] expect) throws IOException {
        try (VirtualDisk d = FORMAT.open(image, ANY, true, 0)) {
            d.write(ByteBuffer.wrap(data), at);
        }
        if (expect != null) {
            System.arraycopy(data, 0, expect, (int) at, data.length);
        }
    }

    private static void poke(Path file, long at, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bytes), at);
        }
    }

    /** Rewrites the dynamic header at 512 after {@code change}, with a correct checksum. */
    private static void editHeader(Path file, java.util.function.Consumer<ByteBuffer> change) throws IOException {
        byte[] raw = Arrays.copyOfRange(Files.readAllBytes(file), 512, 1536);
        ByteBuffer b = ByteBuffer.wrap(raw);
        change.accept(b);
        b.putInt(36, VhdFooter.checksum(raw, 36));
        poke(file, 512, raw);
    }

    @Test
    void overlayReadsThroughAndInfoShowsTheChain() throws IOException {
        byte[] expect = random(SIZE, 1);
        Path base = base(expect);
        Path sub = Files.createDirectories(dir.resolve("sub"));
        Path child = sub.resolve("child.vhd");
        FORMAT.createOverlay(child, base, "vhd", SIZE);
        assertArrayEquals(expect, readAll(child));
        write(child, random(777, 2), 5000, expect);
        assertArrayEquals(expect, readAll(child));
        VolumeInfo info = FORMAT.info(child, ANY, 0);
        assertEquals("../base.vhd", info.backingFilename());
        assertEquals(base.toString(), info.fullBackingFilename());
        assertEquals("vhd", info.backingFormat());
        assertEquals(2, info.chain().size());
        // relocating the pair keeps it working: the relative locator wins over the absolute one
        Path moved = Files.createDirectories(dir.resolve("moved/sub"));
        Files.move(base, dir.resolve("moved/base.vhd"));
        Files.move(child, moved.resolve("child.vhd"));
        assertArrayEquals(expect, readAll(moved.resolve("child.vhd")));
    }

    @Test
    void aReplacedParentIsRefused() throws IOException {
        Path base = base(random(SIZE, 3));
        Path child = dir.resolve("child.vhd");
        FORMAT.createOverlay(child, base, "vhd", SIZE);
        Files.delete(base);
        base(random(SIZE, 4));
        UnsafeBackingException e = assertThrows(UnsafeBackingException.class, () -> readAll(child));
        assertTrue(e.getMessage().contains("unique id"), e.getMessage());
        assertEquals(2, FORMAT.check(child, ANY, false).exitCode());
    }

    @Test
    void aParentOutsideTheConfinedRootIsRefused() throws IOException {
        Path base = base(random(SIZE, 5));
        Path pool = Files.createDirectories(dir.resolve("pool"));
        Path child = pool.resolve("child.vhd");
        FORMAT.createOverlay(child, base, "vhd", SIZE);
        assertThrows(UnsafeBackingException.class, () -> FORMAT.open(child, ImagePolicy.confinedTo(pool), false, 0));
    }

    @Test
    void commitCoalescesTheChildIntoItsParent() throws IOException {
        byte[] expect = random(SIZE, 6);
        Path base = base(expect);
        Path child = dir.resolve("child.vhd");
        FORMAT.createOverlay(child, base, "vhd", SIZE);
        write(child, random(70000, 7), 2 * 1024 * 1024 - 3000, expect);
        write(child, random(100, 8), 11, expect);
        FORMAT.commit(child, ANY);
        assertArrayEquals(expect, readAll(base), "the parent now holds the child's bytes");
        assertArrayEquals(expect, readAll(child), "the emptied child still shows the same disk");
        assertEquals(0, FORMAT.check(child, ANY, false).allocatedUnits());
        assertEquals(0, FORMAT.check(base, ANY, false).exitCode());
    }

    @Test
    void resizeGrowsFixedAndDynamicDisksAndMovesATableThatIsFull() throws IOException {
        for (String sub : new String[] {"fixed", "dynamic"}) {
            Path img = dir.resolve("r-" + sub + ".vhd");
            FORMAT.create(img, SIZE, Map.of("subformat", sub));
            byte[] expect = new byte[SIZE];
            write(img, random(SIZE - 100, 9), 50, expect);
            long bigger = 300L * 1024 * 1024; // 150 blocks: more than the first table sector holds
            FORMAT.resize(img, bigger, ANY);
            byte[] all = readAll(img);
            assertEquals(bigger, all.length);
            assertArrayEquals(expect, Arrays.copyOf(all, SIZE), sub);
            assertTrue(DiskIsZero.from(all, SIZE), sub + ": the new space reads as zeros");
            write(img, new byte[] {9, 9}, bigger - 2, null);
            assertEquals(0, FORMAT.check(img, ANY, false).exitCode(), sub);
            assertThrows(UnsupportedFeatureException.class, () -> FORMAT.resize(img, SIZE, ANY));
        }
    }

    @Test
    void rebaseSafeKeepsTheBytesAndUnsafeOnlyRewritesTheReference() throws IOException {
        byte[] a = random(SIZE, 10);
        Path base = base(a);
        Path other = dir.resolve("other.vhd");
        FORMAT.create(other, SIZE);
        Path child = dir.resolve("child.vhd");
        FORMAT.createOverlay(child, base, "vhd", SIZE);
        byte[] expect = a.clone();
        write(child, random(1000, 11), 4096, expect);
        FORMAT.rebase(child, other, "vhd", false, ANY);
        assertArrayEquals(expect, readAll(child));
        assertEquals(other.toString(), FORMAT.info(child, ANY, 0).fullBackingFilename());
        FORMAT.rebase(child, null, null, false, ANY);
        assertArrayEquals(expect, readAll(child));
        assertEquals(null, FORMAT.info(child, ANY, 0).backingFilename());
    }

    @Test
    void checkFindsAndRepairsALeakedBlock() throws IOException {
        Path img = dir.resolve("leak.vhd");
        FORMAT.create(img, SIZE);
        write(img, random(1000, 12), 0, null);
        // A crash after the footer moved but before the table entry: the block space is leaked.
        byte[] bytes = Files.readAllBytes(img);
        long len = bytes.length;
        byte[] footer = Arrays.copyOfRange(bytes, (int) len - 512, (int) len);
        poke(img, len - 512 + (512 + 2 * 1024 * 1024), footer);
        CheckReport r = FORMAT.check(img, ANY, false);
        assertEquals(3, r.exitCode(), r.problems().toString());
        CheckReport fixed = FORMAT.check(img, ANY, true);
        assertEquals(r.leaks(), fixed.leaksFixed());
        assertEquals(0, FORMAT.check(img, ANY, false).exitCode());
        assertEquals(len, Files.size(img));
    }

    @Test
    void hostileHeadersAreTypedErrorsThatNameTheField() throws IOException {
        Path img = dir.resolve("h.vhd");
        FORMAT.create(img, SIZE);
        byte[] good = Files.readAllBytes(img);
        record Case(String field, java.util.function.Consumer<ByteBuffer> edit) {
        }
        Case[] cases = {
            new Case("block_size", b -> b.putInt(32, 3000)),
            new Case("block_size", b -> b.putInt(32, 256)),
            new Case("max_table_entries", b -> b.putInt(28, 1)),
            new Case("max_table_entries", b -> b.putInt(28, 0x7fffffff)),
            new Case("table_offset", b -> b.putLong(16, 1L << 40)),
            new Case("table_offset", b -> b.putLong(16, 512)),
        };
        for (Case c : cases) {
            Files.write(img, good);
            editHeader(img, c.edit());
            CorruptImageException e = assertThrows(CorruptImageException.class, () -> FORMAT.open(img, ANY, false, 0));
            assertTrue(e.field().contains(c.field()), c.field() + ": " + e.getMessage());
            assertTrue(e.getMessage().contains(img.toString()));
        }
        // a table entry that points past the end of the file
        Files.write(img, good);
        poke(img, 1536, new byte[] {0, 0x10, 0, 0});
        CorruptImageException e = assertThrows(CorruptImageException.class, () -> FORMAT.open(img, ANY, false, 0));
        assertEquals("block allocation table entry 0", e.field());
        assertEquals(1536, e.offset());
        // a size beyond 2040 GiB, with a valid checksum
        byte[] footer = Arrays.copyOfRange(good, good.length - 512, good.length);
        ByteBuffer.wrap(footer).putLong(48, 2041L << 30);
        ByteBuffer.wrap(footer).putInt(64, VhdFooter.checksum(footer, 64));
        Files.write(img, good);
        poke(img, good.length - 512, footer);
        e = assertThrows(CorruptImageException.class, () -> FORMAT.open(img, ANY, false, 0));
        assertEquals("footer current_size", e.field());
        assertThrows(UnsupportedFeatureException.class, () -> FORMAT.create(dir.resolve("huge.vhd"), 2041L << 30));
        assertThrows(UnsupportedFeatureException.class,
                () -> FORMAT.create(dir.resolve("bs.vhd"), SIZE, Map.of("block_size", "1000")));
    }

    @Test
    void geometryFollowsTheSpecification() {
        assertArrayEquals(new int[] {602, 4, 17}, VhdFooter.geometry((20L << 20) / 512));
        assertArrayEquals(new int[] {65535, 16, 255}, VhdFooter.geometry(Long.MAX_VALUE / 1024));
        int[] g = VhdFooter.geometry((20L << 30) / 512);
        assertTrue((long) g[0] * g[1] * g[2] <= (20L << 30) / 512 && g[1] == 16 && g[2] == 63, Arrays.toString(g));
    }

    /** Tiny helper: whether bytes from {@code from} on are all zero. */
    private static final class DiskIsZero {
        static boolean from(byte[] b, int from) {
            for (int i = from; i < b.length - 2; i++) {
                if (b[i] != 0) {
                    return false;
                }
            }
            return true;
        }
    }
}
