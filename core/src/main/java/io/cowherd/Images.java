package io.cowherd;

import io.cowherd.internal.pool.PoolChecks;
import io.cowherd.spi.CheckReport;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.OverlayFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.LongUnaryOperator;

/**
 * The qemu-img-style operations on image files (commit, resize, rebase, repair), kept behind the
 * pool that records a file: what a pool records is decided by the pool, so a master never
 * changes under its clones whoever asks and whatever the file mode; on a file no pool records
 * each call behaves as the format's own operation (and as {@code qemu-img}). Embedding programs
 * call these rather than the {@link ImageFormat} SPI, which knows nothing of pools.
 */
public final class Images {
    private Images() {
    }

    /**
     * Writes {@code image}'s own data into its backing file ({@code qemu-img commit}). A clone a
     * pool records is committed by its pool ({@link Pool#commit}, which takes only a master's last
     * clone and removes the clone); an overlay no pool records may not commit into a pool's
     * master that has clones.
     *
     * @param format {@code image}'s format, used only when no pool records it
     * @return the master committed into, when a pool recorded {@code image}
     * @throws MasterInUseException if the backing file is a pool's master with (other) clones
     */
    public static Optional<Volume> commit(Path image, ImageFormat format, ImagePolicy policy) {
        return commit(image, format, policy, CopyProgress.NONE);
    }

    /**
     * As {@link #commit(Path, ImageFormat, ImagePolicy)}, telling {@code progress} how far the
     * commit of a file no pool records has come (a pool's commit of its last clone is not told).
     */
    public static Optional<Volume> commit(Path image, ImageFormat format, ImagePolicy policy, CopyProgress progress) {
        requireExists(image);
        Optional<Pools.Recorded> recorded = Pools.recording(image);
        if (recorded.isPresent()) {
            try (Pools.Recorded r = recorded.get()) {
                return Optional.of(r.pool().commit(r.volume().name()));
            }
        }
        String backing = format.info(image, policy, 0).fullBackingFilename();
        if (backing != null) {
            refuseIfMasterWithClones(Path.of(backing), "commit " + image + " into it");
        }
        format.commit(image, policy, progress);
        return Optional.empty();
    }

    /**
     * Grows {@code image}'s virtual size ({@code qemu-img resize}) to what {@code newSize} makes
     * of the current size. A volume a pool records is resized by its pool ({@link Pool#resize}),
     * which refuses a master with clones.
     *
     * @param format {@code image}'s format, used only when no pool records it
     */
    public static void resize(Path image, ImageFormat format, LongUnaryOperator newSize, ImagePolicy policy) {
        requireExists(image);
        Optional<Pools.Recorded> recorded = Pools.recording(image);
        if (recorded.isPresent()) {
            try (Pools.Recorded r = recorded.get()) {
                String name = r.volume().name();
                r.pool().resize(name, newSize.applyAsLong(r.pool().info(name).virtualSize()));
            }
            return;
        }
        format.resize(image, newSize.applyAsLong(format.info(image, policy, 0).virtualSize()), policy);
    }

    /**
     * Points an overlay at another backing file, or none ({@code qemu-img rebase}; see
     * {@link OverlayFormat#rebase}). A volume a pool records keeps the backing its record names:
     * dropping a clone's backing in safe mode is the pool's {@link Pool#flatten}; anything else
     * is refused.
     *
     * @param format {@code overlay}'s format, used only when no pool records it
     * @param newBacking the new backing file, or null for none
     * @throws UnsupportedFeatureException if a pool records {@code overlay} and the rebase is not a flatten
     */
    public static void rebase(Path overlay, ImageFormat format, Path newBacking, String newBackingFormat, boolean unsafe,
            ImagePolicy policy) {
        rebase(overlay, format, newBacking, newBackingFormat, unsafe, policy, CopyProgress.NONE);
    }

    /**
     * As {@link #rebase(Path, ImageFormat, Path, String, boolean, ImagePolicy)}, telling {@code
     * progress} how far a safe rebase of a file no pool records has come.
     */
    public static void rebase(Path overlay, ImageFormat format, Path newBacking, String newBackingFormat, boolean unsafe,
            ImagePolicy policy, CopyProgress progress) {
        requireExists(overlay);
        Optional<Pools.Recorded> recorded = Pools.recording(overlay);
        if (recorded.isPresent()) {
            try (Pools.Recorded r = recorded.get()) {
                Volume v = r.volume();
                if (v.role() == Volume.Role.CLONE && newBacking == null && !unsafe) {
                    r.pool().flatten(v.name());
                    return;
                }
                String where = "'" + v.name() + "' is a " + v.role().name().toLowerCase(java.util.Locale.ROOT)
                        + " of pool " + r.pool().location();
                throw new UnsupportedFeatureException(where + ", whose backing belongs to the pool's record: rebasing it "
                        + "is refused; " + (v.role() == Volume.Role.CLONE
                                ? "flatten (Pool.flatten) makes it standalone, as a safe rebase onto no backing does; "
                                        + "promote (Pool.promote) makes it a master of its own"
                                : "masters and standalone volumes stand alone; clone it instead"));
            }
        }
        if (!(format instanceof OverlayFormat o)) {
            throw new UnsupportedFeatureException(format.name() + " images have no backing file");
        }
        if (newBacking != null && !Files.exists(newBacking)) {
            throw new NoSuchVolumeException("new backing file " + newBacking + " does not exist");
        }
        o.rebase(overlay, newBacking, newBackingFormat, unsafe, policy, progress);
    }

    /** What {@link #check} may repair, as {@code qemu-img check -r}. */
    public enum Repair {
        /** Only read and report. */
        NONE,
        /** Free leaked clusters. */
        LEAKS,
        /** Free leaks and fix corruptions. */
        ALL
    }

    /**
     * Checks {@code image}'s metadata ({@code qemu-img check}), repairing what {@code repair}
     * allows. Repairing a pool's master that has clones is refused: a repair rewrites the master
     * the clones read.
     */
    public static CheckReport check(Path image, ImageFormat format, Repair repair, ImagePolicy policy) {
        requireExists(image);
        if (repair != Repair.NONE) {
            refuseIfMasterWithClones(image, "repair it");
        }
        return repair == Repair.ALL ? format.checkRepairingAll(image, policy)
                : format.check(image, policy, repair == Repair.LEAKS);
    }

    /**
     * Refuses to change {@code file} from outside its pool when a pool records it as a master
     * with clones.
     *
     * @param refused what was asked ("commit x into it")
     * @throws MasterInUseException naming the clones and the ways out
     */
    public static void refuseIfMasterWithClones(Path file, String refused) {
        Optional<Pools.Recorded> rec = Pools.recording(file);
        if (rec.isEmpty()) {
            return;
        }
        try (Pools.Recorded r = rec.get()) {
            PoolChecks.refuseChangeWhileCloned(r.pool().location(), r.volume().name(),
                    r.pool().clonesOf(r.volume().name()).stream().map(Volume::name).toList(), refused,
                    "work on a clone instead, or flatten or promote the clones first (Pool.flatten, Pool.promote)");
        }
    }

    /**
     * Whether the guest-visible bytes of {@code file} (in {@code format}) equal those of volume
     * {@code name} of {@code pool}: a master imported from the same disk, in whatever format the
     * pool keeps it. Reads both; cheaper than importing another copy, which reads the file and
     * writes it too.
     */
    public static boolean sameGuestBytes(Path file, String format, Pool pool, String name) {
        try (VirtualDisk a = io.cowherd.spi.ImageFormats.byName(format).open(file, ImagePolicy.operator(), false, 0);
                VirtualDisk b = pool.open(name, false)) {
            if (a.size() != b.size()) {
                return false;
            }
            java.nio.ByteBuffer x = java.nio.ByteBuffer.allocateDirect(1 << 20);
            java.nio.ByteBuffer y = java.nio.ByteBuffer.allocateDirect(1 << 20);
            for (long pos = 0; pos < a.size(); pos += x.capacity()) {
                int len = (int) Math.min(x.capacity(), a.size() - pos);
                x.clear().limit(len);
                y.clear().limit(len);
                a.readFully(x, pos);
                b.readFully(y, pos);
                if (!x.flip().equals(y.flip())) {
                    return false;
                }
            }
            return true;
        } catch (java.io.IOException e) {
            throw CowIOException.wrap(file, "comparing with volume '" + name + "' of pool " + pool.location(), e);
        }
    }

    private static void requireExists(Path image) {
        if (!Files.exists(image)) {
            throw new NoSuchVolumeException(image + " does not exist");
        }
    }
}
