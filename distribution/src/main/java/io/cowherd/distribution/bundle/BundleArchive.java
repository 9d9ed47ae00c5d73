package io.cowherd.distribution.bundle;

import io.cowherd.CorruptFileException;
import io.cowherd.CowIOException;
import io.cowherd.PolicyViolationException;
import io.cowherd.VolumeExistsException;
import io.cowherd.distribution.internal.CountingStreams;
import io.cowherd.distribution.internal.SafeNames;
import io.cowherd.distribution.internal.SparseWriter;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.CompressorException;
import org.apache.commons.compress.compressors.CompressorStreamFactory;
import org.apache.commons.compress.compressors.xz.XZCompressorOutputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bundle as one tar archive (POSIX/PAX headers, optionally zstd or xz compressed) for offline
 * transport. The archive holds one top directory named after the bundle, the manifest first and
 * then each file. Import treats the archive as untrusted: only regular files that the manifest
 * names are accepted (no links, devices, {@code ..} or absolute names), sizes and SHA-256 are
 * checked while extracting, runs of zero blocks become holes again, and the bundle appears under
 * its final name only when everything checked out.
 */
public final class BundleArchive {
    private static final Logger LOG = LoggerFactory.getLogger(BundleArchive.class);

    private BundleArchive() {
    }

    /**
     * Writes {@code bundle} into the archive {@code archive} (must not exist), written under a
     * temporary name and renamed when complete.
     */
    public static void export(Bundle bundle, Path archive, Compression compression) {
        export(bundle, archive, compression, io.cowherd.CopyProgress.NONE);
    }

    /** As {@link #export(Bundle, Path, Compression)}, telling {@code progress} how many of the bundle's bytes are written. */
    public static void export(Bundle bundle, Path archive, Compression compression, io.cowherd.CopyProgress progress) {
        Path target = archive.toAbsolutePath().normalize();
        if (Files.exists(target)) {
            throw new VolumeExistsException(target + " already exists; not overwriting it");
        }
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp-" + UUID.randomUUID());
        String root = SafeNames.checkComponent(bundle.directory().getFileName().toString(), "bundle name");
        try {
            try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16);
                    OutputStream comp = compress(file, compression);
                    TarArchiveOutputStream tar = new TarArchiveOutputStream(comp)) {
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                byte[] m = bundle.manifest().toBytes();
                TarArchiveEntry me = new TarArchiveEntry(root + "/" + BundleManifest.FILE_NAME);
                me.setSize(m.length);
                tar.putArchiveEntry(me);
                tar.write(m);
                tar.closeArchiveEntry();
                io.cowherd.CopyProgress.Counter written = progress.counter(bundle.manifest().totalSize());
                for (BundleFile f : bundle.manifest().files()) {
                    Path p = bundle.path(f);
                    if (Files.size(p) != f.size()) {
                        throw new BundleIntegrityException(p, "size", "manifest says " + f.size() + " bytes, file has "
                                + Files.size(p));
                    }
                    TarArchiveEntry e = new TarArchiveEntry(root + "/" + f.name());
                    e.setSize(f.size());
                    tar.putArchiveEntry(e);
                    try (InputStream in = CountingStreams.counting(Files.newInputStream(p), written)) {
                        in.transferTo(tar);
                    }
                    tar.closeArchiveEntry();
                }
                tar.finish();
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            LOG.info("bundle {} exported to {} ({})", bundle.directory(), target, compression);
        } catch (IOException e) {
            SafeNames.deleteTreeQuietly(tmp);
            throw CowIOException.wrap(target, "writing archive", e);
        } catch (RuntimeException e) {
            SafeNames.deleteTreeQuietly(tmp);
            throw e;
        }
    }

    private static OutputStream compress(OutputStream out, Compression c) throws IOException {
        return switch (c) {
            case NONE -> new NonClosing(out);
            case ZSTD -> new ZstdCompressorOutputStream(new NonClosing(out), 3);
            case XZ -> new XZCompressorOutputStream(new NonClosing(out));
        };
    }

    /**
     * Extracts the bundle archive {@code archive} into the new directory {@code into} (must not
     * exist), checking every file against the manifest.
     *
     * @throws PolicyViolationException for names that escape, links, devices or files the manifest does not name
     * @throws BundleIntegrityException when a size or SHA-256 does not match
     */
    public static Bundle importArchive(Path archive, Path into) {
        return importArchive(archive, into, io.cowherd.CopyProgress.NONE);
    }

    /**
     * As {@link #importArchive(Path, Path)}, telling {@code progress} how many of the archive's
     * (compressed) bytes are read.
     */
    public static Bundle importArchive(Path archive, Path into, io.cowherd.CopyProgress progress) {
        Path target = into.toAbsolutePath().normalize();
        if (Files.exists(target)) {
            throw new VolumeExistsException(target + " already exists; choose a new directory to import into");
        }
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp-" + UUID.randomUUID());
        try {
            Files.createDirectories(target.getParent());
            Files.createDirectory(tmp);
            BundleManifest manifest;
            io.cowherd.CopyProgress.Counter read = progress.counter(Files.size(archive));
            try (InputStream raw = new BufferedInputStream(CountingStreams.counting(Files.newInputStream(archive), read),
                    1 << 16);
                    InputStream in = decompress(raw);
                    TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
                manifest = extract(tar, archive, tmp);
            }
            Files.write(tmp.resolve(BundleManifest.FILE_NAME), manifest.toBytes());
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            LOG.info("bundle archive {} imported into {}", archive, target);
            return Bundle.open(target);
        } catch (IOException e) {
            SafeNames.deleteTreeQuietly(tmp);
            throw CowIOException.wrap(archive, "extracting", e);
        } catch (RuntimeException e) {
            SafeNames.deleteTreeQuietly(tmp);
            throw e;
        }
    }

    private static InputStream decompress(InputStream raw) throws IOException {
        String kind;
        try {
            kind = CompressorStreamFactory.detect(raw);
        } catch (CompressorException e) {
            return raw; // no compressor magic: a plain tar (checked by the tar reader)
        }
        if (!kind.equals(CompressorStreamFactory.ZSTANDARD) && !kind.equals(CompressorStreamFactory.XZ)
                && !kind.equals(CompressorStreamFactory.GZIP)) {
            throw new io.cowherd.UnsupportedFeatureException("bundle archives are tar, tar.zst or tar.xz; this one is "
                    + kind + "-compressed");
        }
        try {
            return new CompressorStreamFactory().createCompressorInputStream(kind, raw);
        } catch (CompressorException e) {
            throw new IOException("cannot decompress " + kind + ": " + e.getMessage(), e);
        }
    }

    private static BundleManifest extract(TarArchiveInputStream tar, Path archive, Path tmp) throws IOException {
        BundleManifest manifest = null;
        String root = null;
        Set<String> done = new HashSet<>();
        TarArchiveEntry e;
        while ((e = tar.getNextEntry()) != null) {
            String name = e.getName();
            if (name.startsWith("/") || name.contains("\\")) {
                throw new PolicyViolationException(archive + ": entry '" + name + "' has an absolute or Windows name; refusing the archive");
            }
            String[] parts = name.split("/");
            for (String p : parts) {
                SafeNames.checkComponent(p, archive + ": archive entry name");
            }
            if (e.isDirectory()) {
                if (parts.length != 1) {
                    throw new PolicyViolationException(archive + ": unexpected directory entry '" + name + "'");
                }
                continue;
            }
            if (!e.isFile() || e.isSymbolicLink() || e.isLink() || e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
                throw new PolicyViolationException(archive + ": entry '" + name
                        + "' is a link, device or FIFO; bundle archives hold regular files only");
            }
            if (parts.length != 2) {
                throw new PolicyViolationException(archive + ": entry '" + name
                        + "' is not directly inside the bundle's top directory");
            }
            if (root == null) {
                root = parts[0];
            } else if (!root.equals(parts[0])) {
                throw new PolicyViolationException(archive + ": entry '" + name + "' lies outside the bundle directory " + root);
            }
            String file = parts[1];
            if (manifest == null) {
                if (!file.equals(BundleManifest.FILE_NAME) || e.getSize() > BundleManifest.MAX_BYTES) {
                    throw new CorruptFileException(archive, "first entry", -1, "a bundle archive starts with "
                            + BundleManifest.FILE_NAME + ", found '" + name + "'");
                }
                byte[] bytes = tar.readNBytes((int) e.getSize());
                manifest = BundleManifest.read(new ByteArrayInputStream(bytes), archive);
                continue;
            }
            BundleFile f = manifest.file(file).orElseThrow(() -> new PolicyViolationException(
                    archive + ": entry '" + name + "' is not in the bundle's manifest; refusing the archive"));
            if (!done.add(file)) {
                throw new PolicyViolationException(archive + ": entry '" + name + "' appears twice");
            }
            long size = e.isSparse() || e.isPaxGNUSparse() || e.isOldGNUSparse() ? e.getRealSize() : e.getSize();
            if (size != f.size()) {
                throw new BundleIntegrityException(archive, name + " size", "manifest says " + f.size()
                        + " bytes, archive entry has " + size);
            }
            SparseWriter.Result r = SparseWriter.copy(tar, tmp.resolve(file), f.size());
            if (r.size() != f.size()) {
                throw new BundleIntegrityException(archive, name + " size", "archive ends after " + r.size() + " of "
                        + f.size() + " bytes");
            }
            if (!r.sha256().equals(f.sha256())) {
                throw new BundleIntegrityException(archive, name + " sha256", "manifest says " + f.sha256()
                        + ", extracted bytes hash to " + r.sha256());
            }
        }
        if (manifest == null) {
            throw new CorruptFileException(archive, BundleManifest.FILE_NAME, -1, "the archive holds no bundle manifest");
        }
        for (BundleFile f : manifest.files()) {
            if (!done.contains(f.name())) {
                throw new BundleIntegrityException(archive, f.name(), "the manifest names it but the archive does not hold it");
            }
        }
        return manifest;
    }

    /** Keeps the compressor's close from closing the file before the tar is finished (the outer try closes it). */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
