package io.cowherd.vhd;

import static io.cowherd.testkit.PeerTool.ok;

import io.cowherd.ImagePolicy;
import io.cowherd.Pool;
import io.cowherd.Volume;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.FileDisk;
import io.cowherd.testkit.SparseSources;
import io.cowherd.testkit.SparseSources.Kind;
import io.cowherd.testkit.SparseSources.Region;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Convert and import to VHD never allocate a block for holes or zeros: raw sources with a hole,
 * with written zeros and with data among both become dynamic VHDs that {@code qemu-img compare}
 * finds identical, whose {@code qemu-img map -f vpc} shows data only in blocks where the source
 * has some, and that allocate little more than that data.
 */
class SparseCopyTest {
    private static final int BLOCK = 2 * 1024 * 1024;
    /** VHD writes whole 4 KiB sector groups (one bitmap byte). */
    private static final int GROUP = 4096;
    /** Footer copy, header, table, a bitmap per block. */
    private static final long VHD_METADATA = 256 * 1024;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Kind.class)
    void convertToVhdAllocatesOnlyBlocksWithData(Kind kind) throws Exception {
        Path src = dir.resolve("src.raw");
        List<Region> data = SparseSources.make(kind, src);
        Path out = dir.resolve("out.vhd");
        try (FileDisk in = new FileDisk(src, false)) {
            DiskCopier.copy(in, new VhdFormat(), Map.of(), out, ImagePolicy.operator(), false);
        }
        ok("qemu-img", "compare", "-f", "raw", "-F", "vpc", src.toString(), out.toString());
        SparseSources.assertSparse(out, "vpc", data, BLOCK, GROUP, VHD_METADATA);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void importIntoVhdPoolAllocatesOnlyBlocksWithData(Kind kind) throws Exception {
        Path src = dir.resolve("src.raw");
        List<Region> data = SparseSources.make(kind, src);
        try (Pool pool = new VhdBackend().openPool(dir.resolve("pool"))) {
            Volume m = pool.importMaster("m", src, "raw");
            ok("qemu-img", "compare", "-f", "raw", "-F", "vpc", src.toString(), m.path().toString());
            SparseSources.assertSparse(m.path(), "vpc", data, BLOCK, GROUP, VHD_METADATA);
        }
    }
}
