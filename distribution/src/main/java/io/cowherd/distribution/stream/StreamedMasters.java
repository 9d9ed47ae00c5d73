package io.cowherd.distribution.stream;

import io.cowherd.Pool;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.distribution.bundle.Bundle;
import io.cowherd.spi.ImageFormats;
import io.cowherd.spi.OverlayFormat;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The disks of a bundle still downloading, as masters of a pool: each becomes a streaming master
 * ({@link Pool#addStreamingMaster}) backed by its export, named as {@link Bundle#importInto} would
 * name it, so clones can be made and booted at once; once the download is complete and the
 * bundle verified, each switches to its fetched file ({@link Pool#completeStream}). The stream's
 * socket and the download must lie in the pool ({@link Pool#streamSockets()}).
 */
public final class StreamedMasters {
    private static final Logger LOG = LoggerFactory.getLogger(StreamedMasters.class);

    private StreamedMasters() {
    }

    /**
     * Adds the stream's disks to {@code pool} as streaming masters. A master of that name that
     * already streams from the same export (the same fetch run again) is kept as it is.
     *
     * @throws VolumeExistsException if a name is taken by another volume
     * @throws UnsupportedFeatureException if the stream is not a bundle's or a disk is not raw
     */
    public static List<Volume> add(Pool pool, String masterName, MasterStream stream) {
        List<StreamedDisk> disks = disks(stream);
        List<Volume> masters = new ArrayList<>();
        for (int i = 0; i < disks.size(); i++) {
            String name = Bundle.masterName(masterName, i);
            StreamedDisk d = disks.get(i);
            var existing = pool.find(name);
            if (existing.isPresent()) {
                if (!streamingFrom(existing.get()).equals(java.util.Optional.of(d.uri()))) {
                    throw new VolumeExistsException("pool " + pool.location() + " already has a volume named '" + name
                            + "' that does not stream from " + d.uri() + "; choose another master name");
                }
                masters.add(existing.get());
                LOG.info("master '{}' of {} streams from {} already", name, pool.location(), d.uri());
            } else {
                masters.add(pool.addStreamingMaster(name, stream.socket(), d.export()));
            }
        }
        return masters;
    }

    /**
     * The download is complete: verifies the bundle in {@code bundleDir} (every file against its
     * sha256), then switches each streaming master to its fetched file. A master deleted from the
     * pool meanwhile (it had no clones) is skipped.
     */
    public static List<Volume> complete(Pool pool, String masterName, MasterStream stream, Path bundleDir) {
        List<StreamedDisk> disks = disks(stream);
        Bundle.open(bundleDir).verify();
        List<Volume> masters = new ArrayList<>();
        for (int i = 0; i < disks.size(); i++) {
            String name = Bundle.masterName(masterName, i);
            if (pool.find(name).isEmpty()) {
                LOG.warn("master '{}' of {} was deleted while it streamed; its fetched file {} stays", name,
                        pool.location(), bundleDir.resolve(disks.get(i).export()));
                continue;
            }
            masters.add(pool.completeStream(name, bundleDir.resolve(disks.get(i).export())));
        }
        return masters;
    }

    /**
     * The export a streaming master reads, as its stand-in records it ({@code nbd+unix:///...}),
     * read from the stand-in's header alone (the export need not be served); empty for any other
     * volume, and for a streaming master already switched to its file.
     */
    public static java.util.Optional<String> streamingFrom(Volume v) {
        if (!v.isMaster() || !(ImageFormats.byName(v.format()) instanceof OverlayFormat f)) {
            return java.util.Optional.empty();
        }
        String backing = f.infoWithoutBacking(v.path()).backingFilename();
        return backing != null && backing.startsWith("nbd+unix:///") ? java.util.Optional.of(backing)
                : java.util.Optional.empty();
    }

    private static List<StreamedDisk> disks(MasterStream stream) {
        for (StreamedDisk d : stream.disks()) {
            if (d.format() == null) {
                throw new UnsupportedFeatureException(stream.socket() + ": export " + d.export() + " is a file of a torrent "
                        + "that is not a cowherd bundle; only a bundle's disks stream into a pool");
            }
            if (!"raw".equals(d.format())) {
                throw new UnsupportedFeatureException(stream.socket() + ": disk " + d.export() + " is " + d.format()
                        + "; a pool streams raw masters only (serve it without a pool, or bundle it as raw)");
            }
        }
        return stream.disks();
    }
}
