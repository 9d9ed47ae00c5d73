package io.cowherd.distribution.bundle;

import io.cowherd.CopyProgress;
import io.cowherd.CorruptFileException;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.Pool;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.Volume;
import io.cowherd.VolumeExistsException;
import io.cowherd.VolumeInfo;
import io.cowherd.distribution.internal.CountingStreams;
import io.cowherd.distribution.internal.SafeNames;
import io.cowherd.distribution.internal.SparseWriter;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bundle directory: disk images, optional domain XML and NVRAM, and the manifest that records
 * their sizes, SHA-256 and (for disks) format and virtual size.
 *
 * <pre>{@code
 * Bundle b = Bundle.builder().disk(Path.of("golden.qcow2"), "qcow2").domainXml(Path.of("golden.xml"))
 *         .create(Path.of("/srv/bundles/golden"));
 * b.verify();
 * b.importInto(pool, "golden");       // checks every SHA-256 first
 * }</pre>
 */
public final class Bundle {
    private static final Logger LOG = LoggerFactory.getLogger(Bundle.class);
    private final Path dir;
    private final BundleManifest manifest;

    private Bundle(Path dir, BundleManifest manifest) {
        this.dir = dir;
        this.manifest = manifest;
    }

    /** The bundle's directory. */
    public Path directory() {
        return dir;
    }

    /** The bundle's manifest. */
    public BundleManifest manifest() {
        return manifest;
    }

    /** The path of a file of the bundle. */
    public Path path(BundleFile f) {
        return dir.resolve(f.name());
    }

    /** Starts describing a new bundle. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Opens an existing bundle directory and reads its manifest (the files are not hashed; call
     * {@link #verify()}).
     *
     * @throws NoSuchVolumeException if the directory or its manifest is missing
     */
    public static Bundle open(Path dir) {
        Path m = dir.resolve(BundleManifest.FILE_NAME);
        if (!Files.isRegularFile(m)) {
            throw new NoSuchVolumeException(dir + " is not a bundle: it has no " + BundleManifest.FILE_NAME
                    + " (make one with `cowherd bundle create`)");
        }
        try (InputStream in = Files.newInputStream(m)) {
            return new Bundle(dir, BundleManifest.read(in, m));
        } catch (IOException e) {
            throw CowIOException.wrap(m, "reading", e);
        }
    }

    /**
     * Checks every file's size and SHA-256 against the manifest, and that no file is a symbolic link.
     *
     * @throws BundleIntegrityException on the first mismatch
     */
    public void verify() {
        verify(CopyProgress.NONE);
    }

    /** As {@link #verify()}, telling {@code progress} how many of the bundle's bytes are hashed. */
    public void verify(CopyProgress progress) {
        CopyProgress.Counter hashed = progress.counter(manifest.totalSize());
        for (BundleFile f : manifest.files()) {
            Path p = path(f);
            if (Files.isSymbolicLink(p) || !Files.isRegularFile(p)) {
                throw new BundleIntegrityException(p, "file", "missing or not a regular file");
            }
            try {
                long size = Files.size(p);
                if (size != f.size()) {
                    throw new BundleIntegrityException(p, "size", "manifest says " + f.size() + " bytes, file has " + size);
                }
                String sha = sha256(p, hashed);
                if (!sha.equals(f.sha256())) {
                    throw new BundleIntegrityException(p, "sha256", "manifest says " + f.sha256() + ", file hashes to " + sha);
                }
            } catch (IOException e) {
                throw CowIOException.wrap(p, "hashing", e);
            }
        }
        LOG.info("bundle {} verified ({} files, {} bytes)", dir, manifest.files().size(), manifest.totalSize());
    }

    /**
     * Verifies the bundle, then imports its disks into {@code pool} as read-only masters: the first
     * disk as {@code masterName}, further disks as {@code masterName-disk2}, {@code -disk3}, ...
     *
     * @return the new masters, in disk order
     */
    public List<Volume> importInto(Pool pool, String masterName) {
        return importInto(pool, masterName, CopyProgress.NONE);
    }

    /**
     * As {@link #importInto(Pool, String)}, telling {@code progress} of every byte read: the
     * verification's pass over the whole bundle, then the import's over its disks.
     */
    public List<Volume> importInto(Pool pool, String masterName, CopyProgress progress) {
        Objects.requireNonNull(masterName, "masterName");
        long diskBytes = manifest.disks().stream().mapToLong(BundleFile::size).sum();
        long total = manifest.totalSize() + diskBytes;
        verify((done, all) -> progress.advanced(done, total));
        List<BundleFile> disks = manifest.disks();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < disks.size(); i++) {
            String name = masterName(masterName, i);
            if (pool.find(name).isPresent()) {
                throw new VolumeExistsException("pool " + pool.location() + " already has a volume named '" + name
                        + "'; choose another master name");
            }
            names.add(name);
        }
        List<Volume> out = new ArrayList<>();
        long before = manifest.totalSize();
        for (int i = 0; i < disks.size(); i++) {
            long base = before;
            long size = disks.get(i).size();
            // The import counts guest bytes (holes included); this scales them to the file's bytes.
            out.add(pool.importMaster(names.get(i), path(disks.get(i)), disks.get(i).format(),
                    (done, all) -> progress.advanced(base + (long) ((double) done / Math.max(1, all) * size), total)));
            before += size;
        }
        return out;
    }

    /** The pool name of disk {@code index} (from 0) of a bundle imported as {@code masterName}. */
    public static String masterName(String masterName, int index) {
        return index == 0 ? masterName : masterName + "-disk" + (index + 1);
    }

    /** SHA-256 of a file, lower-case hex. */
    public static String sha256(Path p) throws IOException {
        return sha256(p, CopyProgress.NONE.counter(0));
    }

    private static String sha256(Path p, CopyProgress.Counter hashed) throws IOException {
        MessageDigest md = SparseWriter.sha256();
        byte[] buf = new byte[1 << 20];
        try (InputStream in = CountingStreams.counting(Files.newInputStream(p), hashed)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Collects a new bundle's files; {@link #create(Path)} writes it. */
    public static final class Builder {
        private record Source(Path file, FileRole role, String format, String name) {
        }

        private final List<Source> sources = new ArrayList<>();

        private Builder() {
        }

        /**
         * Adds a disk image; its format is stated, never guessed. It must stand alone (no
         * backing file): flatten it first with {@code cowherd convert}.
         */
        public Builder disk(Path image, String format) {
            sources.add(new Source(image, FileRole.DISK, Objects.requireNonNull(format, "format"), null));
            return this;
        }

        /** Adds the master's libvirt domain XML (stored as {@code domain.xml}). */
        public Builder domainXml(Path xml) {
            sources.add(new Source(xml, FileRole.DOMAIN_XML, null, "domain.xml"));
            return this;
        }

        /**
         * Adds a boot profile ({@link BootProfile}, stored as {@value BootProfile#FILE_NAME}): its
         * reads must name disks of the bundle and lie inside them.
         */
        public Builder bootProfile(Path profile) {
            sources.add(new Source(profile, FileRole.BOOT_PROFILE, null, BootProfile.FILE_NAME));
            return this;
        }

        /** Adds the master's NVRAM file (stored as {@code nvram.fd}). */
        public Builder nvram(Path nvram) {
            sources.add(new Source(nvram, FileRole.NVRAM, null, "nvram.fd"));
            return this;
        }

        /**
         * Writes the bundle into {@code into}, which must not exist (or be an empty directory):
         * copies each file (holes kept), hashes it, reads each disk's virtual size through its
         * format, and writes the manifest. Everything is written under a temporary name and
         * renamed into place at the end, so a failure leaves nothing half-written.
         */
        public Bundle create(Path into) {
            return create(into, CopyProgress.NONE);
        }

        /** As {@link #create(Path)}, telling {@code progress} how many of the files' bytes are copied in. */
        public Bundle create(Path into, CopyProgress progress) {
            if (sources.stream().noneMatch(s -> s.role == FileRole.DISK)) {
                throw new IllegalArgumentException("a bundle needs at least one disk image");
            }
            Path target = into.toAbsolutePath().normalize();
            try {
                if (Files.exists(target)) {
                    try (var list = Files.list(target)) {
                        if (!Files.isDirectory(target) || list.findAny().isPresent()) {
                            throw new VolumeExistsException(target + " already exists and is not an empty directory; "
                                    + "choose a new bundle directory");
                        }
                    }
                    Files.delete(target);
                }
                Files.createDirectories(target.getParent());
            } catch (IOException e) {
                throw CowIOException.wrap(target, "preparing", e);
            }
            Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp-" + UUID.randomUUID());
            try {
                Files.createDirectory(tmp);
                List<BundleFile> files = new ArrayList<>();
                long total = 0;
                for (Source s : sources) {
                    total += Files.isRegularFile(s.file) ? Files.size(s.file) : 0;
                }
                CopyProgress.Counter copied = progress.counter(total);
                for (Source s : sources) {
                    files.add(copyIn(s, tmp, files, copied));
                }
                checkBootProfile(files, tmp);
                BundleManifest manifest = new BundleManifest(files);
                Files.write(tmp.resolve(BundleManifest.FILE_NAME), manifest.toBytes());
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                LOG.info("bundle {} created: {} files, {} bytes", target, files.size(), manifest.totalSize());
                return new Bundle(target, manifest);
            } catch (IOException e) {
                SafeNames.deleteTreeQuietly(tmp);
                throw CowIOException.wrap(target, "creating bundle", e);
            } catch (RuntimeException e) {
                SafeNames.deleteTreeQuietly(tmp);
                throw e;
            }
        }

        /** A boot profile's reads name disks of the bundle and lie inside them. */
        private void checkBootProfile(List<BundleFile> files, Path tmp) {
            for (Source src : sources) {
                if (src.role != FileRole.BOOT_PROFILE) {
                    continue;
                }
                BootProfile profile = BootProfile.read(tmp.resolve(BootProfile.FILE_NAME));
                for (int i = 0; i < profile.reads().size(); i++) {
                    BootProfile.Read r = profile.reads().get(i);
                    BundleFile disk = files.stream().filter(f -> f.role() == FileRole.DISK && f.name().equals(r.disk()))
                            .findFirst().orElse(null);
                    if (disk == null || r.offset() + r.length() > disk.size()) {
                        throw new CorruptFileException(src.file, BootProfile.FILE_NAME + " read " + (i + 1), -1, disk == null
                                ? "names '" + r.disk() + "', which is not a disk of the bundle"
                                : "ends at " + (r.offset() + r.length()) + ", past the end of " + r.disk() + " (" + disk.size() + " bytes)");
                    }
                }
            }
        }

        private static BundleFile copyIn(Source s, Path tmp, List<BundleFile> sofar, CopyProgress.Counter copied)
                throws IOException {
            Path src = s.file;
            if (!Files.isRegularFile(src)) {
                throw new NoSuchVolumeException(src + " does not exist or is not a regular file");
            }
            String name = s.name != null ? s.name : src.getFileName().toString();
            SafeNames.checkComponent(name, "bundle file name");
            if (sofar.stream().anyMatch(f -> f.name().equals(name))) {
                throw new IllegalArgumentException("two files of the bundle would be called " + name + " (" + src + ")");
            }
            String format = null;
            long virtualSize = -1;
            if (s.role == FileRole.DISK) {
                VolumeInfo info = ImageFormats.byName(s.format).info(src, ImagePolicy.operator(), 0);
                if (info.backingFilename() != null) {
                    throw new UnsupportedFeatureException(src + " has a backing file (" + info.backingFilename()
                            + "); a bundle carries standalone images: flatten it first with `cowherd convert`");
                }
                format = info.format();
                virtualSize = info.virtualSize();
            }
            Path dst = tmp.resolve(name);
            SparseWriter.Result r;
            try (InputStream in = CountingStreams.counting(Files.newInputStream(src), copied)) {
                r = SparseWriter.copy(in, dst, Long.MAX_VALUE);
            }
            return new BundleFile(name, s.role, r.size(), r.sha256(), format, virtualSize);
        }
    }
}
