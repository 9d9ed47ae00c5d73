package io.cowherd;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Where a backend keeps its volumes, and the record of which master each clone depends on.
 * The record lives inside the pool itself, so another process, or the same one after a
 * restart, sees the same truth; every change holds a lock that excludes other processes.
 * Masters are read-only and cannot be deleted while they have clones.
 */
public interface Pool extends AutoCloseable {

    /** The pool's location (a directory, a volume group). */
    Path location();

    /** The backend that manages this pool. */
    CowBackend backend();

    /**
     * Copies the image {@code source}, whose format is stated (never guessed), into the pool as a
     * new read-only master called {@code name}. Its whole backing chain is flattened.
     *
     * @throws VolumeExistsException if {@code name} is taken
     */
    Volume importMaster(String name, Path source, String sourceFormat);

    /**
     * Records an image that already lies in the pool, in the pool's format and standing alone
     * (no backing file), as a read-only master, without copying it.
     *
     * @throws VolumeExistsException if {@code name} or the image is already recorded
     */
    Volume adoptMaster(String name, Path image);

    /** Creates a copy-on-write clone of {@code master} called {@code clone}. */
    Volume createClone(String master, String clone);

    /**
     * Creates several clones of one master under one lock; either all are created or, on
     * failure, none is left behind.
     */
    List<Volume> createClones(String master, List<String> clones);

    /** The volume called {@code name}, if the pool records one. */
    Optional<Volume> find(String name);

    /** The volume called {@code name}. @throws NoSuchVolumeException if there is none */
    default Volume get(String name) {
        return find(name).orElseThrow(() -> new NoSuchVolumeException(
                "no volume named '" + name + "' in pool " + location()));
    }

    /** Every volume the pool records, masters first, in creation order. */
    List<Volume> volumes();

    /** The clones of {@code master}, in creation order. */
    List<Volume> clonesOf(String master);

    /** Format, sizes and backing chain of a volume. */
    VolumeInfo info(String name);

    /**
     * Opens the guest-visible bytes of a volume.
     *
     * @param writable whether to allow writes; masters are never writable
     */
    VirtualDisk open(String name, boolean writable);

    /**
     * Deletes a volume.
     *
     * @throws MasterInUseException if it is a master that still has clones
     */
    void delete(String name);

    /** Releases what the pool holds open; volumes stay. */
    @Override
    void close();
}
