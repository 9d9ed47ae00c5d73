package io.cowherd.distribution.stream;

import io.cowherd.distribution.bundle.BootProfile;
import io.cowherd.distribution.bundle.BundleFile;
import io.cowherd.distribution.bundle.BundleIntegrityException;
import io.cowherd.distribution.bundle.BundleManifest;
import io.cowherd.distribution.nbd.NbdExport;
import io.cowherd.distribution.nbd.NbdServer;
import io.cowherd.distribution.torrent.EngineFeature;
import io.cowherd.distribution.torrent.Metainfo;
import io.cowherd.distribution.torrent.TorrentSession;
import io.cowherd.CowIOException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A master that can be read while it is still arriving: the images of a torrent being fetched,
 * exported read-only over NBD on a Unix socket. For a cowherd bundle these are its disks (the
 * manifest is fetched first, through the same path); for any other torrent, each of its files.
 * QEMU reaches an export as {@code nbd+unix:///EXPORT?socket=PATH}, e.g. as the backing file of
 * a clone's overlay.
 *
 * <p>A read waits for the pieces it needs (asked for ahead of the swarm's own order, see
 * {@link TorrentSession#fetchFirst}) and returns only bytes whose piece hash matched; if they do not
 * arrive within the read timeout, the read fails with an I/O error naming the piece. A bundle with
 * a {@link BootProfile} has the pieces under the profile's reads asked for first, in their order,
 * as soon as the stream starts. Fetch with
 * {@link io.cowherd.distribution.torrent.EngineTuning#STREAMING EngineTuning.STREAMING}: its
 * shallow request queues let a read's piece come sooner from a host that already holds it.
 *
 * <pre>{@code
 * TorrentSession fetch = TorrentEngines.named("libtorrent").fetch(metainfo, dir,
 *         options.withTuning(EngineTuning.STREAMING));
 * try (MasterStream stream = MasterStream.serve(fetch, dir, socket, MasterStream.DEFAULT_READ_TIMEOUT)) {
 *     String backing = stream.disks().get(0).uri();   // qemu-img create -b BACKING -F qcow2 ...
 *     fetch.awaitCompletion(Duration.ofHours(1));
 * }
 * }</pre>
 */
public final class MasterStream implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MasterStream.class);
    /** How long a read waits for a piece unless told otherwise: the fetch's default no-peer timeout. */
    public static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(60);

    private final TorrentSession fetch;
    private final FetchedFiles files;
    private final NbdServer server;
    private final List<StreamedDisk> disks;
    private final ReadRecorder recorder;
    /** The threads verifying the boot profile's pieces as they arrive ({@link StreamedFileSource#verifyAhead}). */
    private final List<Thread> verifiers;
    /** The sources of a bundle's disk exports, by export name. */
    private final Map<String, StreamedFileSource> sources;

    private MasterStream(TorrentSession fetch, FetchedFiles files, NbdServer server, List<StreamedDisk> disks,
            ReadRecorder recorder, List<Thread> verifiers, Map<String, StreamedFileSource> sources) {
        this.fetch = fetch;
        this.files = files;
        this.server = server;
        this.disks = List.copyOf(disks);
        this.recorder = recorder;
        this.verifiers = List.copyOf(verifiers);
        this.sources = Map.copyOf(sources);
    }

    /** The source behind export {@code name}, or null (for tests in this package). */
    StreamedFileSource source(String name) {
        return sources.get(name);
    }

    /**
     * The reads the exports served so far, in order: a boot profile, when a domain booted from
     * them ({@code cowherd bundle create --boot-profile} ships it).
     *
     * @throws IllegalStateException unless the stream records reads
     */
    public BootProfile recordedProfile() {
        if (recorder == null) {
            throw new IllegalStateException("this stream does not record its reads (serve with recordReads)");
        }
        return recorder.profile();
    }

    /**
     * Exports the images of the torrent {@code fetch} is fetching into {@code parent}, on
     * {@code socket}. For a bundle this first waits for its manifest, and its boot profile if it has
     * one (each at most {@code readTimeout}).
     *
     * @param fetch a fetch whose metadata is known, on an engine that declares {@link EngineFeature#STREAMING}
     * @param parent the directory the fetch writes into (as given to the engine)
     * @param socket the Unix socket to listen on
     * @param readTimeout how long a read waits for a piece before it fails
     * @throws io.cowherd.UnsupportedFeatureException if the engine cannot stream
     * @throws BundleIntegrityException if the bundle's manifest disagrees with its torrent
     * @throws io.cowherd.CowIOException if the manifest did not arrive in time
     */
    public static MasterStream serve(TorrentSession fetch, Path parent, Path socket, Duration readTimeout) {
        return serve(fetch, parent, socket, readTimeout, false);
    }

    /**
     * As {@link #serve(TorrentSession, Path, Path, Duration)}; with {@code recordReads}, every read
     * the exports serve is recorded, for {@link #recordedProfile()}.
     */
    public static MasterStream serve(TorrentSession fetch, Path parent, Path socket, Duration readTimeout,
            boolean recordReads) {
        Objects.requireNonNull(readTimeout, "readTimeout");
        ReadRecorder recorder = recordReads ? new ReadRecorder() : null;
        Metainfo m = fetch.metainfo();
        if (m == null) {
            throw new IllegalStateException("the fetch's metadata has not arrived yet; serve it once metainfo() is known");
        }
        fetch.havePiece(0); // refuses here, before anything listens, on an engine that cannot stream
        FetchedFiles files = new FetchedFiles(m, parent);
        List<Thread> verifiers = new ArrayList<>();
        Map<String, StreamedFileSource> sources = new HashMap<>();
        try {
            List<NbdExport> exports = new ArrayList<>();
            List<StreamedDisk> disks = new ArrayList<>();
            Metainfo.FileEntry manifestEntry = manifestEntry(m);
            if (manifestEntry != null) {
                BundleManifest manifest = readManifest(fetch, files, manifestEntry, parent, readTimeout);
                Map<String, Metainfo.FileEntry> diskEntries = new HashMap<>();
                for (BundleFile disk : manifest.disks()) {
                    Metainfo.FileEntry f = m.topLevelFile(disk.name());
                    if (f == null || f.length() != disk.size()) {
                        throw new BundleIntegrityException(parent.resolve(m.name()).resolve(disk.name()), "size",
                                "the manifest says " + disk.size() + " bytes, the torrent "
                                        + (f == null ? "has no such file" : "says " + f.length()));
                    }
                    StreamedFileSource source = new StreamedFileSource(disk.name(), fetch, files, f.offset(), f.length(),
                            readTimeout, recorder);
                    exports.add(new NbdExport(disk.name(), "disk of bundle " + m.name() + " (" + disk.format() + ", streaming)",
                            source));
                    sources.put(disk.name(), source);
                    disks.add(new StreamedDisk(disk.name(), NbdServer.uri(socket, disk.name()), disk.format(), f.length(),
                            disk.virtualSize()));
                    diskEntries.put(disk.name(), f);
                }
                Optional<BundleFile> profile = manifest.bootProfile();
                if (profile.isPresent()) {
                    Metainfo.FileEntry pf = m.topLevelFile(profile.get().name());
                    if (pf == null) {
                        throw new BundleIntegrityException(parent.resolve(m.name()).resolve(profile.get().name()), "file",
                                "the manifest lists it, the torrent does not");
                    }
                    List<Integer> first = prefetch(fetch, files, pf, parent, diskEntries, readTimeout);
                    for (StreamedFileSource source : sources.values()) { // the disks
                        verifiers.add(source.verifyAhead(first));
                    }
                }
            } else {
                for (Metainfo.FileEntry f : m.files()) {
                    if (f.length() > 0) {
                        String name = String.join("/", f.path());
                        exports.add(export(name, "file of torrent " + m.name() + " (streaming)", fetch, files, f, readTimeout,
                                recorder));
                        disks.add(new StreamedDisk(name, NbdServer.uri(socket, name), null, f.length(), -1));
                    }
                }
            }
            NbdServer server = NbdServer.start(socket, exports);
            openToOtherUsers(socket);
            LOG.info("streaming {} on {}: {}", m.name(), socket, disks.stream().map(StreamedDisk::export).toList());
            return new MasterStream(fetch, files, server, disks, recorder, verifiers, sources);
        } catch (RuntimeException e) {
            verifiers.forEach(Thread::interrupt);
            files.close();
            throw e;
        }
    }

    private static NbdExport export(String name, String description, TorrentSession fetch, FetchedFiles files,
            Metainfo.FileEntry f, Duration timeout, ReadRecorder recorder) {
        return new NbdExport(name, description, new StreamedFileSource(name, fetch, files, f.offset(), f.length(), timeout,
                recorder));
    }

    /** The bundle manifest's entry: a file of that name at the top of a multi-file torrent; null if there is none. */
    private static Metainfo.FileEntry manifestEntry(Metainfo m) {
        return m.topLevelFile(BundleManifest.FILE_NAME);
    }

    /** The manifest, read through the streaming path: its pieces first, verified. */
    private static BundleManifest readManifest(TorrentSession fetch, FetchedFiles files, Metainfo.FileEntry f, Path parent,
            Duration timeout) {
        Path where = parent.resolve(fetch.metainfo().name()).resolve(BundleManifest.FILE_NAME);
        return BundleManifest.parse(readWhole(fetch, files, f, where, BundleManifest.MAX_BYTES, timeout), where);
    }

    /**
     * The bundle's boot profile, read through the streaming path, then the pieces under its reads
     * asked for first, in the order of the reads (reads of a disk the bundle does not export, or past
     * its end, are skipped with a warning: the bundle's author checked them, a hostile one did not).
     *
     * @return those pieces, in that order
     */
    private static List<Integer> prefetch(TorrentSession fetch, FetchedFiles files, Metainfo.FileEntry f, Path parent,
            Map<String, Metainfo.FileEntry> disks, Duration timeout) {
        Metainfo m = fetch.metainfo();
        Path where = parent.resolve(m.name()).resolve(BootProfile.FILE_NAME);
        BootProfile profile = BootProfile.parse(readWhole(fetch, files, f, where, BootProfile.MAX_BYTES, timeout), where);
        List<Integer> pieces = ProfilePieces.of(m, profile, disks, where);
        fetch.prefetch(pieces);
        LOG.info("{}: the boot profile's {} reads ask for {} pieces first", m.name(), profile.reads().size(), pieces.size());
        return pieces;
    }

    private static byte[] readWhole(TorrentSession fetch, FetchedFiles files, Metainfo.FileEntry f, Path where, long max,
            Duration timeout) {
        if (f.length() > max) {
            throw new BundleIntegrityException(where, "size", f.length() + " bytes, over the " + max + " this file may have");
        }
        ByteBuffer bytes = ByteBuffer.allocate((int) f.length());
        try {
            new StreamedFileSource(where.getFileName().toString(), fetch, files, f.offset(), f.length(), timeout, null)
                    .read(0, bytes);
        } catch (IOException e) {
            throw CowIOException.wrap(where, "fetching it first", e);
        }
        return bytes.array();
    }

    /**
     * libvirt's QEMU runs as a user of its own ({@code libvirt-qemu} on Debian) and connects to the
     * socket, which takes write permission on it. The bytes served are the torrent's, which any peer
     * of the swarm may fetch anyway; the directories above the socket still decide who reaches it.
     */
    private static void openToOtherUsers(Path socket) {
        try {
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
        } catch (IOException | UnsupportedOperationException e) {
            LOG.warn("could not open NBD socket {} to other users (libvirt's QEMU may not connect): {}", socket, e.toString());
        }
    }

    /**
     * The pieces of the torrent the fetch does not hold now: when the fetch stops for want of a
     * source, the pieces whose reads fail (after the read timeout) until a source comes back.
     */
    public java.util.BitSet missingPieces() {
        java.util.BitSet missing = new java.util.BitSet();
        for (int p = 0; p < fetch.metainfo().pieceCount(); p++) {
            if (!fetch.havePiece(p)) {
                missing.set(p);
            }
        }
        return missing;
    }

    /** The NBD clients connected now (a clone's QEMU is one); 0 once every clone has moved to the local master. */
    public int clients() {
        return server.clients();
    }

    /** The images exported, in the bundle's order. */
    public List<StreamedDisk> disks() {
        return disks;
    }

    /** The socket the exports are served on. */
    public Path socket() {
        return server.socket();
    }

    /** Stops serving (clients are disconnected) and releases the files. */
    @Override
    public void close() {
        verifiers.forEach(Thread::interrupt);
        server.close();
        files.close();
    }
}
