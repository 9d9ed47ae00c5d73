package io.cowherd;

import java.nio.file.Path;
import java.time.Duration;
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
     * What this pool can do: its backend's {@link CowBackend#capabilities() capabilities}, unless
     * the pool's storage narrows them (an LVM classic pool cannot flatten or promote; a thin pool
     * of the same backend can).
     */
    default java.util.Set<Capability> capabilities() {
        return backend().capabilities();
    }

    /** Whether this pool can do {@code capability}. */
    default boolean supports(Capability capability) {
        return capabilities().contains(capability);
    }

    /** Throws {@link UnsupportedCapabilityException} unless this pool can do {@code capability}. */
    default void require(Capability capability) {
        backend().require(capability);
        if (!supports(capability)) {
            throw new UnsupportedCapabilityException(backend().name(), location(), capability,
                    "the backend can, this kind of pool cannot");
        }
    }

    /** What a default lifecycle method throws: the refusal when undeclared, else a backend's bug. */
    private RuntimeException notImplemented(Capability capability) {
        require(capability);
        return new IllegalStateException("backend '" + backend().name() + "' declares " + capability
                + " but its pools do not implement it");
    }

    /**
     * Copies the image {@code source}, whose format is stated (never guessed), into the pool as a
     * new read-only master called {@code name}. Its whole backing chain is flattened.
     *
     * @throws VolumeExistsException if {@code name} is taken
     */
    Volume importMaster(String name, Path source, String sourceFormat);

    /**
     * As {@link #importMaster(String, Path, String)}, telling {@code progress} how far the copy
     * has come. Pools whose import copies nothing long may tell nothing.
     */
    default Volume importMaster(String name, Path source, String sourceFormat, CopyProgress progress) {
        return importMaster(name, source, sourceFormat);
    }

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

    /**
     * As {@link #createClones(String, List)}, with each clone's copy-on-write store made
     * {@code cowPercent} (1-100) of its master's size instead of the pool's default: for backends
     * whose clones have stores of a fixed size, which fill as the clone is written and lose the
     * clone when they overflow (a watch grows them; see {@link #checkFill}).
     *
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#FILL}
     * @throws UnsupportedFeatureException where this pool's clones have no store of their own (LVM thin)
     */
    default List<Volume> createClones(String master, List<String> clones, int cowPercent) {
        throw notImplemented(Capability.FILL);
    }

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

    /**
     * The volume whose image file or device is {@code path}, if the pool records one. Commands
     * that are given a file ask this before they touch it, so the pool decides what happens to
     * the files it records.
     */
    default Optional<Volume> volumeAt(Path path) {
        Path p = path.toAbsolutePath().normalize();
        return volumes().stream().filter(v -> v.path().toAbsolutePath().normalize().equals(p)).findFirst();
    }

    // ---- the lifecycle some backends have; each method needs its capability ----

    /**
     * Creates the devices of every volume the pool records that is not active yet (after a
     * reboot). A clone whose snapshot was lost is not activated.
     *
     * @return the clones now active
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#ACTIVATE}
     */
    default List<String> activate() {
        throw notImplemented(Capability.ACTIVATE);
    }

    /**
     * Removes the pool's devices; the volumes and the record stay.
     *
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#ACTIVATE}
     */
    default void deactivate() {
        throw notImplemented(Capability.ACTIVATE);
    }

    /**
     * How full each piece of fixed-size copy-on-write storage is; lost snapshots are reported
     * as such.
     *
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#FILL}
     */
    default List<Fill> usage() {
        throw notImplemented(Capability.FILL);
    }

    /**
     * Checks fill levels once: tells {@code listener} about each level at or past the policy's
     * warning threshold and each loss, and grows what reached its growth threshold.
     *
     * @return the levels as found before growing
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#FILL}
     */
    default List<Fill> checkFill(FillPolicy policy, FillListener listener) {
        throw notImplemented(Capability.FILL);
    }

    /**
     * Runs {@link #checkFill} every {@code period} on a thread of its own until the returned
     * handle is closed.
     *
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#FILL}
     */
    default AutoCloseable watch(Duration period, FillPolicy policy, FillListener listener) {
        throw notImplemented(Capability.FILL);
    }

    /**
     * Makes {@code clone} a standalone, writable volume that no longer depends on its master (its
     * guest-visible bytes unchanged); the master may then lose its last clone.
     *
     * @return the volume, now {@link Volume.Role#STANDALONE}
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#FLATTEN}
     */
    default Volume flatten(String clone) {
        throw notImplemented(Capability.FLATTEN);
    }

    /**
     * Makes {@code clone} a new read-only master with the same name and guest-visible bytes; its
     * siblings keep their master, and new clones can be made of it.
     *
     * @return the volume, now a {@link Volume.Role#MASTER}
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#PROMOTE}
     */
    default Volume promote(String clone) {
        throw notImplemented(Capability.PROMOTE);
    }

    /**
     * Writes {@code clone}'s changes into its master, which must have no other clone (a master
     * never changes under a clone); the clone is gone afterwards, its content is the master's.
     *
     * @return the master
     * @throws MasterInUseException if the master has other clones
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#COMMIT}
     */
    default Volume commit(String clone) {
        throw notImplemented(Capability.COMMIT);
    }

    /**
     * Grows the guest-visible size of a volume; shrinking is refused.
     *
     * @throws MasterInUseException if {@code name} is a master that has clones
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#RESIZE}
     */
    default void resize(String name, long newSize) {
        throw notImplemented(Capability.RESIZE);
    }

    /**
     * The one directory whose NBD sockets may back this pool's images: where a streaming master's
     * export listens ({@link #addStreamingMaster}). Other protocols and other sockets stay refused.
     */
    default Path streamSockets() {
        return location().resolve(".streams");
    }

    /**
     * Records a master whose bytes are still arriving: a stand-in image in the pool, empty and
     * read-only, backed by export {@code export} of the NBD server on {@code socket} (a file
     * directly inside {@link #streamSockets()}), which serves the master as a raw disk and must
     * be serving now (its size becomes the master's). Clones are made, opened and deleted as of
     * any master; a read of data that has not arrived waits for it, or fails with an I/O error
     * when the server gives up, never with zeros.
     *
     * @throws UnsafeBackingException if the socket is not one of the pool's stream sockets
     * @throws NoSuchVolumeException if nobody serves that export
     * @throws UnsupportedCapabilityException unless the backend declares {@link Capability#STREAM}
     */
    default Volume addStreamingMaster(String name, Path socket, String export) {
        throw notImplemented(Capability.STREAM);
    }

    /**
     * Switches a master made by {@link #addStreamingMaster} from its export to {@code local}, the
     * complete, verified file of the same bytes (raw, inside the pool: the download). Only the
     * stand-in's backing reference changes, so nothing is copied and clones see the same bytes;
     * guests that run on clones keep reading the export until they move (see
     * {@code io.cowherd.domain.LocalMasterSwitch#moveClones}). Switching again to the same file
     * does nothing.
     *
     * @throws UnsupportedFeatureException if {@code name} is not a streaming master
     * @throws CorruptImageException if {@code local} is not the master's size
     */
    default Volume completeStream(String name, Path local) {
        throw notImplemented(Capability.STREAM);
    }

    /**
     * Records that clone {@code clone} now lives in {@code image}, a new image directly inside the
     * pool with the same master and size, to which a running guest was moved by a live block copy
     * (the old image, now unused, is removed). The pool checks that the new image backs onto the
     * clone's master before it records anything.
     *
     * @throws UnsafeBackingException if {@code image} is elsewhere or backs onto something else
     */
    default Volume movedClone(String clone, Path image) {
        throw notImplemented(Capability.STREAM);
    }

    /** Releases what the pool holds open; volumes stay. */
    @Override
    void close();
}
