package io.cowherd.internal.pool;

import io.cowherd.CowBackend;
import io.cowherd.Pool;
import io.cowherd.Pools;
import io.cowherd.Volume;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A pool that is a directory whose record of volumes is a journal ({@link PoolRecords}) in
 * {@code .cowherd/} under a cross-process {@link PoolLock}: the file-image pools and dm-snapshot.
 * It answers the questions about the record (find, list, clones of a master) and holds the checks
 * every change makes against it; subclasses make and remove the volumes themselves.
 */
public abstract class RecordedPool implements Pool {
    /** The pool's directory, absolute and normalized. */
    protected final Path directory;
    /** {@code .cowherd/} inside it: the lock, the journal and the backend's claim. */
    protected final Path meta;
    /** Held for every change and every read of the record. */
    protected final PoolLock lock;
    /** The journal of volumes. */
    protected final PoolRecords records;
    private final CowBackend backend;

    /** Names the pool's files; creates nothing. */
    protected RecordedPool(CowBackend backend, Path directory) {
        this.backend = backend;
        this.directory = directory.toAbsolutePath().normalize();
        this.meta = this.directory.resolve(Pools.META_DIR);
        this.lock = new PoolLock(meta.resolve("lock"));
        this.records = new PoolRecords(meta.resolve("volumes"), this.directory);
    }

    @Override
    public Path location() {
        return directory;
    }

    @Override
    public CowBackend backend() {
        return backend;
    }

    /** The lock, held for a change or a read of the record; a pool made lazily checks it exists first. */
    protected PoolLock.Held locked() {
        return lock.acquire();
    }

    /** Every recorded volume, by name in creation order, read under the lock. */
    protected Map<String, Volume> recorded() {
        try (PoolLock.Held held = locked()) {
            return records.load();
        }
    }

    /** What callers see of a recorded volume (dm-snapshot shows a clone as its device); itself by default. */
    protected Volume visible(Volume recorded) {
        return recorded;
    }

    @Override
    public Optional<Volume> find(String name) {
        return Optional.ofNullable(recorded().get(name)).map(this::visible);
    }

    @Override
    public List<Volume> volumes() {
        Map<String, Volume> all = recorded();
        List<Volume> out = new ArrayList<>();
        all.values().stream().filter(Volume::isMaster).map(this::visible).forEach(out::add);
        all.values().stream().filter(v -> !v.isMaster()).map(this::visible).forEach(out::add);
        return out;
    }

    @Override
    public List<Volume> clonesOf(String master) {
        return clonesOf(recorded(), master).stream().map(this::visible).toList();
    }

    /** An empty record, for a pool that does not exist yet. */
    protected static Map<String, Volume> none() {
        return new LinkedHashMap<>();
    }

    // ---- checks against a record loaded under the lock ----

    /** The volume {@code name}. @throws io.cowherd.NoSuchVolumeException if {@code all} has none */
    protected Volume recorded(Map<String, Volume> all, String name) {
        Volume v = all.get(name);
        if (v == null) {
            throw PoolChecks.noVolume(directory, name);
        }
        return v;
    }

    /**
     * The master {@code name}, to be cloned.
     *
     * @param wayOut what the user can do when {@code name} is not a master
     */
    protected Volume masterToClone(Map<String, Volume> all, String name, String wayOut) {
        Volume v = all.get(name);
        if (v == null) {
            throw PoolChecks.noMaster(directory, name);
        }
        PoolChecks.requireMaster(name, v.role(), wayOut);
        return v;
    }

    /**
     * The clone {@code name}.
     *
     * @param what what was asked ("committed"), for the message; null to leave it out
     */
    protected Volume requireClone(Map<String, Volume> all, String name, String what) {
        Volume v = recorded(all, name);
        PoolChecks.requireClone(directory, name, v.role(), what);
        return v;
    }

    /** The clones of {@code master} in {@code all}, in creation order. */
    public static List<Volume> clonesOf(Map<String, Volume> all, String master) {
        return all.values().stream().filter(v -> master.equals(v.master())).toList();
    }

    /** The clones of {@code master} other than {@code clone}, by name. */
    public static List<String> otherClones(Map<String, Volume> all, String master, String clone) {
        return clonesOf(all, master).stream().map(Volume::name).filter(n -> !n.equals(clone)).toList();
    }

    /** @throws io.cowherd.MasterInUseException if {@code name} is a master that still has clones */
    protected void refuseDeleteWhileCloned(Map<String, Volume> all, String name) {
        PoolChecks.refuseDeleteWhileCloned(directory, name, clonesOf(all, name).stream().map(Volume::name).toList());
    }

    /** @throws io.cowherd.VolumeExistsException if {@code all} has a volume called {@code name} */
    protected void refuseTakenName(Map<String, Volume> all, String name) {
        if (all.containsKey(name)) {
            throw PoolChecks.nameTaken(directory, name);
        }
    }

    @Override
    public String toString() {
        return backend.name() + " pool " + directory;
    }
}
