package io.cowherd.spi;

import io.cowherd.CowBackend;
import io.cowherd.Pool;
import io.cowherd.pool.DirectoryPool;
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

    @Override
    public Pool openPool(Path location) {
        return new DirectoryPool(this, format(), location);
    }
}
