package io.cowherd.dmsnapshot;

import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.UnsafeBackingException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.RawFormat;
import io.cowherd.internal.pool.PoolChecks;
import io.cowherd.internal.pool.PoolFiles;
import io.cowherd.internal.pool.PoolLock;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a dm-snapshot pool gets its masters: an image is converted to a raw file {@code NAME.raw}
 * (padded to whole sectors, as a loop device sees only those), or a raw file already in the pool
 * is adopted as it is. Either way the file becomes read-only and is recorded. The pool exists
 * already (the caller made it, and removes it again if this fails).
 */
final class MasterImport {
    private static final Logger LOG = LoggerFactory.getLogger(MasterImport.class);

    private final DmSnapshotPool pool;

    MasterImport(DmSnapshotPool pool) {
        this.pool = pool;
    }

    /** Converts {@code source} into master {@code name}. */
    Volume importMaster(String name, Path source, String sourceFormat) {
        Path directory = pool.location();
        Path target = pool.masterFile(name);
        try (PoolLock.Held held = pool.locked()) {
            pool.checkFree(pool.journal().load(), name);
        }
        // Convert outside the lock (a big master must not stall clones), with our own readers.
        ImagePolicy sourcePolicy = ImagePolicy.operator();
        ImageFormat in = ImageFormats.byName(sourceFormat);
        sourcePolicy.checkFormat(source, in.name());
        Path staged = directory.resolve("." + name + ".import");
        try {
            try (VirtualDisk disk = in.open(source, sourcePolicy, false, 0)) {
                DiskCopier.copy(disk, new RawFormat(), staged, ImagePolicy.confinedTo(directory));
            } catch (IOException e) {
                throw CowIOException.wrap(source, "reading", e);
            }
            padToSectors(staged);
            try (PoolLock.Held held = pool.locked()) {
                pool.checkFree(pool.journal().load(), name);
                Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
                PoolFiles.makeReadOnly(target);
                Volume master = new Volume(name, Volume.Role.MASTER, null, target, RawFormat.NAME);
                pool.journal().added(List.of(master));
                LOG.info("imported {} ({}) as master '{}' in {}", source, in.name(), name, directory);
                return master;
            }
        } catch (IOException e) {
            throw CowIOException.wrap(target, "placing the imported master", e);
        } finally {
            PoolFiles.deleteQuietly(staged);
        }
    }

    /** Records the raw file {@code image}, directly inside the pool, as master {@code name}. */
    Volume adopt(String name, Path image) {
        Path directory = pool.location();
        Path target = image.toAbsolutePath().normalize();
        if (!directory.equals(target.getParent())) {
            throw new UnsafeBackingException(image + " is not directly inside pool " + directory
                    + "; import it instead");
        }
        try {
            if (Files.size(target) % 512 != 0) {
                throw new UnsupportedFeatureException(image + " is " + Files.size(target) + " bytes, not a whole "
                        + "number of 512-byte sectors, so a loop device would cut it; import it instead (pads it)");
            }
        } catch (IOException e) {
            throw CowIOException.wrap(target, "adopting", e);
        }
        try (PoolLock.Held held = pool.locked()) {
            Map<String, Volume> all = pool.journal().load();
            if (all.containsKey(name) || all.values().stream().anyMatch(v -> v.path().equals(target))) {
                throw PoolChecks.alreadyRecorded(directory, "'" + name + "' or " + target);
            }
            PoolFiles.makeReadOnly(target);
            Volume master = new Volume(name, Volume.Role.MASTER, null, target, RawFormat.NAME);
            pool.journal().added(List.of(master));
            return master;
        }
    }

    /** A loop device sees whole sectors only: pad the master with zeros to the next one. */
    private static void padToSectors(Path file) throws IOException {
        long size = Files.size(file);
        if (size % 512 != 0) {
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                f.setLength(DmSnapshotPool.roundUp(size, 512));
            }
        }
    }
}
