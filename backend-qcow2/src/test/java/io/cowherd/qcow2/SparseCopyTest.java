package io.cowherd.qcow2;

import static io.cowherd.testkit.PeerTool.ok;

import io.cowherd.ImagePolicy;
import io.cowherd.Pool;
import io.cowherd.Volume;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.FileDisk;
import io.cowherd.internal.io.RawFormat;
import io.cowherd.spi.ImageFormat;
import io.cowherd.testkit.SparseSources;
import io.cowherd.testkit.SparseSources.Kind;
import io.cowherd.testkit.SparseSources.Region;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Convert and import never store holes or zeros: raw sources with a hole, with written zeros
 * and with data among both become qcow2 and raw images that {@code qemu-img compare} finds
 * identical, whose {@code qemu-img map} shows data only where the source has some, and that
 * allocate little more than that data.
 */
class SparseCopyTest {
    private static final int CLUSTER = 65536;
    /** Header, L1, refcount table and block, L2 table: a few clusters. */
    private static final long QCOW2_METADATA = 8 * CLUSTER;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Kind.class)
    void convertToQcow2StoresOnlyData(Kind kind) throws Exception {
        Path src = dir.resolve("src.raw");
        List<Region> data = SparseSources.make(kind, src);
        Path out = convert(src, new Qcow2Format(), dir.resolve("out.qcow2"));
        ok("qemu-img", "compare", "-f", "raw", "-F", "qcow2", src.toString(), out.toString());
        ok("qemu-img", "check", "-f", "qcow2", out.toString());
        SparseSources.assertSparse(out, "qcow2", data, CLUSTER, CLUSTER, QCOW2_METADATA);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void convertToRawLeavesHoles(Kind kind) throws Exception {
        Path src = dir.resolve("src.raw");
        List<Region> data = SparseSources.make(kind, src);
        Path out = convert(src, new RawFormat(), dir.resolve("out.raw"));
        ok("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), out.toString());
        SparseSources.assertSparse(out, "raw", data, 4096, 4096, 0);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void importIntoQcow2PoolStoresOnlyData(Kind kind) throws Exception {
        Path src = dir.resolve("src.raw");
        List<Region> data = SparseSources.make(kind, src);
        try (Pool pool = new Qcow2Backend().openPool(dir.resolve("pool"))) {
            Volume m = pool.importMaster("m", src, "raw");
            ok("qemu-img", "compare", "-f", "raw", "-F", "qcow2", src.toString(), m.path().toString());
            SparseSources.assertSparse(m.path(), "qcow2", data, CLUSTER, CLUSTER, QCOW2_METADATA);
        }
    }

    /** What {@code cowherd convert -f raw -O FORMAT src out} does. */
    private static Path convert(Path src, ImageFormat format, Path out) throws Exception {
        try (FileDisk in = new FileDisk(src, false)) {
            DiskCopier.copy(in, format, java.util.Map.of(), out, ImagePolicy.operator(), false);
        }
        return out;
    }
}
