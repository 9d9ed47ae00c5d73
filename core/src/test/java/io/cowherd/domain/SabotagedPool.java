package io.cowherd.domain;

import io.cowherd.CowBackend;
import io.cowherd.Pool;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.VolumeInfo;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * TEST ONLY: a pool that delegates everything but runs a hook before each clone is created, to
 * simulate something going wrong (or another user acting) in the middle of a batch.
 */
final class SabotagedPool implements Pool {
    private final Pool delegate;
    private final Consumer<String> beforeCreateClone;

    /** @param beforeCreateClone called with the clone's name before it is created; may throw */
    SabotagedPool(Pool delegate, Consumer<String> beforeCreateClone) {
        this.delegate = delegate;
        this.beforeCreateClone = beforeCreateClone;
    }

    @Override
    public Path location() {
        return delegate.location();
    }

    @Override
    public CowBackend backend() {
        return delegate.backend();
    }

    @Override
    public Volume importMaster(String name, Path source, String sourceFormat) {
        return delegate.importMaster(name, source, sourceFormat);
    }

    @Override
    public Volume adoptMaster(String name, Path image) {
        return delegate.adoptMaster(name, image);
    }

    @Override
    public Volume createClone(String master, String clone) {
        beforeCreateClone.accept(clone);
        return delegate.createClone(master, clone);
    }

    @Override
    public List<Volume> createClones(String master, List<String> clones) {
        clones.forEach(beforeCreateClone);
        return delegate.createClones(master, clones);
    }

    @Override
    public Optional<Volume> find(String name) {
        return delegate.find(name);
    }

    @Override
    public List<Volume> volumes() {
        return delegate.volumes();
    }

    @Override
    public List<Volume> clonesOf(String master) {
        return delegate.clonesOf(master);
    }

    @Override
    public VolumeInfo info(String name) {
        return delegate.info(name);
    }

    @Override
    public VirtualDisk open(String name, boolean writable) {
        return delegate.open(name, writable);
    }

    @Override
    public void delete(String name) {
        delegate.delete(name);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
