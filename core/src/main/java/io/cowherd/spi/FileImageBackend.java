package io.cowherd.spi;

import io.cowherd.CowBackend;
import io.cowherd.Pool;
import io.cowherd.internal.pool.DirectoryPool;
import java.nio.file.Path;

/** Base for backends whose volumes are image files in a directory, one {@link OverlayFormat} each. */
public abstract class FileImageBackend implements CowBackend {

    /** The format this backend's volumes are written in. */
    protected abstract OverlayFormat format();

    @Override
    public String volumeFormat() {
        return format().name();
    }

    @Override
    public boolean volumesAreFiles() {
        return true;
    }

    /** A directory pool made before pools recorded their backend, whose first volume is in this format. */
    @Override
    public boolean recognizes(Path location) {
        Path journal = location.resolve(io.cowherd.Pools.META_DIR).resolve("volumes");
        if (!java.nio.file.Files.isRegularFile(journal)) {
            return false;
        }
        return new io.cowherd.internal.pool.PoolRecords(journal, location).load().values().stream().findFirst()
                .map(v -> v.format().equals(volumeFormat())).orElse(false);
    }

    @Override
    public Pool openPool(Path location) {
        return new DirectoryPool(this, format(), location);
    }
}
