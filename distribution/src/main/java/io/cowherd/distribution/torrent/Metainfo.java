package io.cowherd.distribution.torrent;

import io.cowherd.CorruptFileException;
import io.cowherd.CowIOException;
import io.cowherd.PolicyViolationException;
import io.cowherd.distribution.internal.Bencode;
import io.cowherd.distribution.internal.SafeNames;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A torrent's metainfo (the {@code .torrent} file, BEP 3), parsed strictly for untrusted input:
 * size capped at {@link #MAX_BYTES}, every path component a plain name (no {@code ..}, absolute
 * paths, separators or control characters), sizes and piece counts consistent, and the info hash
 * computed over the info dictionary's bytes exactly as received.
 */
public final class Metainfo {
    /** Largest metainfo accepted (enough for a 16 TiB torrent in 4 MiB pieces). */
    public static final int MAX_BYTES = 8 << 20;
    /** Smallest and largest piece length accepted. */
    public static final int MIN_PIECE = 16 << 10;
    /** Largest piece length accepted (engines buffer a whole piece in memory). */
    public static final int MAX_PIECE = 16 << 20;
    private static final int MAX_FILES = 100_000;
    private static final int MAX_DEPTH = 32;

    /**
     * One file of the torrent.
     *
     * @param path path components below the torrent's top directory (just the name for a single-file torrent)
     * @param length its size in bytes
     * @param offset where it starts in the torrent's concatenated bytes
     */
    public record FileEntry(List<String> path, long length, long offset) {
        /** Checks the fields. */
        public FileEntry {
            path = List.copyOf(path);
        }
    }

    private final byte[] encoded;
    private final byte[] infoHash;
    private final String name;
    private final int pieceLength;
    private final byte[] pieces;
    private final List<FileEntry> files;
    private final boolean multiFile;
    private final long totalSize;
    private final List<URI> trackers;

    private Metainfo(byte[] encoded, byte[] infoHash, String name, int pieceLength, byte[] pieces, List<FileEntry> files,
            boolean multiFile, List<URI> trackers) {
        this.encoded = encoded;
        this.infoHash = infoHash;
        this.name = name;
        this.pieceLength = pieceLength;
        this.pieces = pieces;
        this.files = List.copyOf(files);
        this.multiFile = multiFile;
        this.totalSize = files.stream().mapToLong(FileEntry::length).sum();
        this.trackers = List.copyOf(trackers);
    }

    /** The metainfo's bytes, as a {@code .torrent} file holds them. */
    public byte[] encoded() {
        return encoded.clone();
    }

    /** SHA-1 of the info dictionary. */
    public byte[] infoHash() {
        return infoHash.clone();
    }

    /** The info hash in lower-case hex (as opentracker's whitelist and magnet links spell it). */
    public String infoHashHex() {
        return HexFormat.of().formatHex(infoHash);
    }

    /** The torrent's name: the top directory of a multi-file torrent, the file of a single-file one. */
    public String name() {
        return name;
    }

    /** Bytes per piece (the last piece may be shorter). */
    public int pieceLength() {
        return pieceLength;
    }

    /** Number of pieces. */
    public int pieceCount() {
        return pieces.length / 20;
    }

    /** SHA-1 of piece {@code i}. */
    public byte[] pieceHash(int i) {
        return java.util.Arrays.copyOfRange(pieces, i * 20, i * 20 + 20);
    }

    /** Whether the bytes {@code data} has left (position to limit, which it consumes) are piece {@code i}: its SHA-1 is the piece's hash. */
    public boolean pieceMatches(int i, ByteBuffer data) {
        MessageDigest sha1 = sha1Digest();
        sha1.update(data);
        return java.util.Arrays.equals(sha1.digest(), 0, 20, pieces, i * 20, i * 20 + 20);
    }

    /** Size of piece {@code i}. */
    public long pieceSize(int i) {
        return Math.min(pieceLength, totalSize - (long) i * pieceLength);
    }

    /** The files, in torrent order. */
    public List<FileEntry> files() {
        return files;
    }

    /** Whether the torrent has an info.files list (a top directory) rather than one file. */
    public boolean isMultiFile() {
        return multiFile;
    }

    /**
     * The file of that name at the top of a multi-file torrent (a bundle's manifest, disk or boot
     * profile); null if there is none, or the torrent is a single file.
     */
    public FileEntry topLevelFile(String name) {
        if (isMultiFile()) {
            for (FileEntry f : files) {
                if (f.path().size() == 1 && f.path().get(0).equals(name)) {
                    return f;
                }
            }
        }
        return null;
    }

    /** Sum of the files' sizes. */
    public long totalSize() {
        return totalSize;
    }

    /** Announce URLs (announce and announce-list, first tier first, duplicates removed). */
    public List<URI> trackers() {
        return trackers;
    }

    /** A magnet link: info hash, name and trackers. */
    public String magnetUri() {
        StringBuilder b = new StringBuilder("magnet:?xt=urn:btih:").append(infoHashHex())
                .append("&dn=").append(URLEncoder.encode(name, StandardCharsets.UTF_8))
                .append("&xl=").append(totalSize);
        for (URI t : trackers) {
            b.append("&tr=").append(URLEncoder.encode(t.toString(), StandardCharsets.UTF_8));
        }
        return b.toString();
    }

    /**
     * The torrent's files under {@code parent}, each checked to be there at its full length: what
     * a seed shares. The data itself is trusted (it was hashed when this metainfo was made).
     *
     * @throws io.cowherd.NoSuchVolumeException if a file is missing or has another length
     */
    public List<Path> requireDataIn(Path parent) {
        List<Path> paths = resolveIn(parent);
        for (int i = 0; i < paths.size(); i++) {
            Path f = paths.get(i);
            long want = files.get(i).length();
            try {
                if (!java.nio.file.Files.isRegularFile(f) || java.nio.file.Files.size(f) != want) {
                    throw new io.cowherd.NoSuchVolumeException(f + " is missing or not " + want
                            + " bytes; seed the directory the torrent was made from");
                }
            } catch (java.io.IOException e) {
                throw io.cowherd.CowIOException.wrap(f, "checking", e);
            }
        }
        return paths;
    }

    /**
     * Where each file goes under {@code parent}: {@code parent/name/...} for a multi-file torrent,
     * {@code parent/name} for a single file. Checked: inside {@code parent}, no symbolic link on
     * the way.
     */
    public List<Path> resolveIn(Path parent) {
        List<Path> out = new ArrayList<>();
        for (FileEntry f : files) {
            List<String> comps = new ArrayList<>();
            if (multiFile) {
                comps.add(name);
            }
            comps.addAll(f.path());
            out.add(SafeNames.resolveInside(parent, comps, "torrent file name"));
        }
        return out;
    }

    /** Writes the metainfo to {@code file}. */
    public void save(Path file) {
        // Whole or not at all: a script waiting for the file never reads half of it.
        Path tmp = file.toAbsolutePath().resolveSibling("." + file.getFileName() + ".part");
        try {
            Files.write(tmp, encoded);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the write's error is the one to report
            }
            throw CowIOException.wrap(file, "writing", e);
        }
    }

    /** Reads and checks a {@code .torrent} file. */
    public static Metainfo read(Path file) {
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new PolicyViolationException(file + " is larger than " + MAX_BYTES + " bytes; refusing it as metainfo");
            }
            byte[] bytes;
            try (InputStream in = Files.newInputStream(file)) {
                bytes = in.readNBytes(MAX_BYTES + 1);
            }
            return parse(bytes, file);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading", e);
        }
    }

    /**
     * Parses and checks metainfo bytes.
     *
     * @param where the file they came from, for messages (may be null)
     * @throws CorruptFileException when malformed
     * @throws PolicyViolationException when too large or a file name escapes
     */
    public static Metainfo parse(byte[] bytes, Path where) {
        Path w = where == null ? Path.of("metainfo") : where;
        if (bytes.length > MAX_BYTES) {
            throw new PolicyViolationException(w + ": metainfo larger than " + MAX_BYTES + " bytes; refusing it");
        }
        Bencode.Value root;
        try {
            root = Bencode.decode(bytes);
        } catch (IllegalArgumentException e) {
            throw new CorruptFileException(w, "bencode", -1, e.getMessage());
        }
        try {
            return fromTree(bytes, root, w);
        } catch (ClassCastException | NullPointerException | ArithmeticException e) {
            throw new CorruptFileException(w, "metainfo", -1, "a field has the wrong type or is missing (" + e + ")");
        }
    }

    private static Metainfo fromTree(byte[] bytes, Bencode.Value root, Path w) {
        if (!root.isDict()) {
            throw new CorruptFileException(w, "metainfo", 0, "top level is not a dictionary");
        }
        Bencode.Value info = root.dict().get("info");
        if (info == null || !info.isDict()) {
            throw new CorruptFileException(w, "info", -1, "missing info dictionary");
        }
        Map<String, Bencode.Value> d = info.dict();
        String name = str(d, "name", w);
        SafeNames.checkComponent(name, "torrent name");
        long pl = num(d, "piece length", w);
        if (pl < MIN_PIECE || pl > MAX_PIECE || Long.bitCount(pl) != 1) {
            throw new CorruptFileException(w, "piece length", -1, pl + " is not a power of two between " + MIN_PIECE
                    + " and " + MAX_PIECE);
        }
        byte[] pieces = d.get("pieces").bytes();
        if (pieces.length == 0 || pieces.length % 20 != 0) {
            throw new CorruptFileException(w, "pieces", -1, "length " + pieces.length + " is not a positive multiple of 20");
        }
        List<FileEntry> files = new ArrayList<>();
        boolean multi;
        long offset = 0;
        if (d.containsKey("files")) {
            multi = true;
            List<Bencode.Value> list = d.get("files").list();
            if (list.isEmpty() || list.size() > MAX_FILES) {
                throw new CorruptFileException(w, "info.files", -1, list.size() + " files (1 to " + MAX_FILES + " accepted)");
            }
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (Bencode.Value fv : list) {
                Map<String, Bencode.Value> f = fv.dict();
                long len = num(f, "length", w);
                List<Bencode.Value> pv = f.get("path").list();
                if (pv.isEmpty() || pv.size() > MAX_DEPTH) {
                    throw new CorruptFileException(w, "info.files.path", -1, "path of " + pv.size() + " components");
                }
                List<String> path = new ArrayList<>();
                for (Bencode.Value c : pv) {
                    path.add(SafeNames.checkComponent(c.string(), "torrent file name"));
                }
                if (!seen.add(String.join("/", path))) {
                    throw new CorruptFileException(w, "info.files", -1, "file " + String.join("/", path) + " listed twice");
                }
                if (len < 0) {
                    throw new CorruptFileException(w, "info.files.length", -1, "negative length " + len);
                }
                files.add(new FileEntry(path, len, offset));
                offset = Math.addExact(offset, len);
            }
        } else {
            multi = false;
            long len = num(d, "length", w);
            if (len < 0) {
                throw new CorruptFileException(w, "length", -1, "negative length " + len);
            }
            files.add(new FileEntry(List.of(name), len, 0));
            offset = len;
        }
        long expectPieces = (offset + pl - 1) / pl;
        if (expectPieces != pieces.length / 20 || offset == 0) {
            throw new CorruptFileException(w, "pieces", -1, pieces.length / 20 + " piece hashes for " + offset
                    + " bytes in " + pl + "-byte pieces (expected " + expectPieces + ")");
        }
        byte[] infoBytes = java.util.Arrays.copyOfRange(bytes, info.start(), info.end());
        List<URI> trackers = new ArrayList<>();
        if (root.dict().containsKey("announce")) {
            addTracker(trackers, root.dict().get("announce").string());
        }
        if (root.dict().containsKey("announce-list")) {
            for (Bencode.Value tier : root.dict().get("announce-list").list()) {
                for (Bencode.Value t : tier.list()) {
                    addTracker(trackers, t.string());
                }
            }
        }
        return new Metainfo(bytes.clone(), sha1(infoBytes), name, (int) pl, pieces, files, multi, trackers);
    }

    private static void addTracker(List<URI> trackers, String s) {
        try {
            URI u = new URI(s);
            if (!trackers.contains(u)) {
                trackers.add(u);
            }
        } catch (java.net.URISyntaxException e) {
            // an unusable tracker URL is skipped, like other clients do
        }
    }

    private static String str(Map<String, Bencode.Value> d, String key, Path w) {
        Bencode.Value v = d.get(key);
        if (v == null || !v.isBytes()) {
            throw new CorruptFileException(w, key, -1, "missing or not a string");
        }
        return v.string();
    }

    private static long num(Map<String, Bencode.Value> d, String key, Path w) {
        Bencode.Value v = d.get(key);
        if (v == null || !v.isNumber()) {
            throw new CorruptFileException(w, key, -1, "missing or not an integer");
        }
        return v.number();
    }

    static byte[] sha1(byte[] b) {
        return sha1Digest().digest(b);
    }

    private static MessageDigest sha1Digest() {
        try {
            return MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The piece length for {@code totalSize} bytes: about 1,000 to 2,000 pieces, a power of two
     * between 128 KiB and 8 MiB (small pieces spread sooner through a swarm, large ones cost less
     * per-piece overhead and metainfo; 256 MiB to eight hosts took 26.5 s with 128 KiB pieces and
     * 26.9 s with 256 KiB, see docs/distribution.md).
     */
    public static int choosePieceLength(long totalSize) {
        return choosePieceLength(totalSize, 2048);
    }

    /**
     * The piece length for {@code totalSize} bytes that clones will boot from while they arrive (a
     * bundle with a boot profile, streamed with {@code fetch --serve}): about 4,000 to 8,000 pieces,
     * a power of two between 128 KiB and 8 MiB. A boot reads scattered ranges and each read waits
     * for whole pieces, so smaller pieces move fewer bytes before the guest has what it reads; too
     * small, and the hosts' per-piece work slows the swarm. The Debian guest's boot (96.4 MiB read
     * from a 768 MiB disk) touches 181 MiB in 512 KiB pieces, 152 MiB in 256 KiB, 132 MiB in 128
     * KiB; streamed to 8 hosts at 100 Mbit/s its boot set took 21.43 and 22.29 s in 128 KiB pieces
     * and 25.02 s in 256 KiB (medians of 3 rounds, the same session; docs/nbd.md), with the full
     * download no slower.
     */
    public static int choosePieceLengthForStreaming(long totalSize) {
        return choosePieceLength(totalSize, 8192);
    }

    /** The smallest power of two from 128 KiB to 8 MiB that cuts {@code totalSize} into at most {@code pieces} pieces. */
    private static int choosePieceLength(long totalSize, int pieces) {
        long target = Math.max(1, (totalSize + pieces - 1) / pieces);
        int p = 128 << 10;
        while (p < target && p < (8 << 20)) {
            p <<= 1;
        }
        return p;
    }

    /**
     * Creates the metainfo of {@code content}: a single-file torrent for a file, a multi-file
     * torrent (named after the directory, files in sorted order) for a directory. Pieces are
     * hashed on all cores.
     *
     * @param trackers announce URLs (may be empty for a trackerless torrent)
     * @param pieceLength bytes per piece, or 0 to {@linkplain #choosePieceLength choose} from the size
     */
    public static Metainfo create(Path content, List<URI> trackers, int pieceLength, String createdBy) {
        return create(content, trackers, pieceLength, createdBy, io.cowherd.CopyProgress.NONE);
    }

    /**
     * As {@link #create(Path, List, int, String)}, telling {@code progress} how many of the
     * content's bytes are hashed.
     */
    public static Metainfo create(Path content, List<URI> trackers, int pieceLength, String createdBy,
            io.cowherd.CopyProgress progress) {
        try {
            Path top = content.toAbsolutePath().normalize();
            List<Path> paths = new ArrayList<>();
            List<FileEntry> entries = new ArrayList<>();
            boolean multi = Files.isDirectory(top, LinkOption.NOFOLLOW_LINKS);
            long offset = 0;
            if (multi) {
                try (var walk = Files.walk(top)) {
                    for (Path p : walk.sorted().toList()) {
                        if (Files.isSymbolicLink(p)) {
                            throw new PolicyViolationException(p + " is a symbolic link; torrents carry regular files only");
                        }
                        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && !p.getFileName().toString().startsWith(".")) {
                            List<String> comps = new ArrayList<>();
                            top.relativize(p).forEach(c -> comps.add(c.toString()));
                            long len = Files.size(p);
                            paths.add(p);
                            entries.add(new FileEntry(comps, len, offset));
                            offset += len;
                        }
                    }
                }
            } else {
                long len = Files.size(top);
                paths.add(top);
                entries.add(new FileEntry(List.of(top.getFileName().toString()), len, 0));
                offset = len;
            }
            if (offset == 0) {
                throw new IllegalArgumentException(top + " holds no data to share");
            }
            int pl = pieceLength > 0 ? pieceLength : choosePieceLength(offset);
            byte[] pieces = hashPieces(paths, entries, offset, pl, progress.counter(offset));
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("name", top.getFileName().toString());
            info.put("piece length", (long) pl);
            info.put("pieces", pieces);
            if (multi) {
                List<Object> fl = new ArrayList<>();
                for (FileEntry e : entries) {
                    fl.add(Map.of("length", e.length(), "path", new ArrayList<Object>(e.path())));
                }
                info.put("files", fl);
            } else {
                info.put("length", offset);
            }
            Map<String, Object> root = new LinkedHashMap<>();
            root.put("info", info);
            if (!trackers.isEmpty()) {
                root.put("announce", trackers.get(0).toString());
                List<Object> tiers = new ArrayList<>();
                for (URI t : trackers) {
                    tiers.add(List.of(t.toString()));
                }
                root.put("announce-list", tiers);
            }
            root.put("created by", createdBy == null ? "cowherd" : createdBy);
            root.put("creation date", System.currentTimeMillis() / 1000);
            return parse(Bencode.encode(root), top);
        } catch (IOException e) {
            throw CowIOException.wrap(content, "hashing", e);
        }
    }

    private static byte[] hashPieces(List<Path> paths, List<FileEntry> entries, long total, int pl,
            io.cowherd.CopyProgress.Counter hashed) throws IOException {
        int n = (int) ((total + pl - 1) / pl);
        byte[] out = new byte[n * 20];
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "cowherd-hash");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> tasks = new ArrayList<>();
            int per = Math.max(1, (n + threads - 1) / threads);
            for (int from = 0; from < n; from += per) {
                int a = from;
                int b = Math.min(n, from + per);
                tasks.add(pool.submit(() -> {
                    hashRange(paths, entries, total, pl, a, b, out, hashed);
                    return null;
                }));
            }
            for (Future<?> f : tasks) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof IOException io) {
                        throw io;
                    }
                    throw new IllegalStateException(e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while hashing", e);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return out;
    }

    private static void hashRange(List<Path> paths, List<FileEntry> entries, long total, int pl, int from, int to,
            byte[] out, io.cowherd.CopyProgress.Counter hashed) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-1");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        FileChannel[] open = new FileChannel[paths.size()];
        try {
            for (int i = from; i < to; i++) {
                long start = (long) i * pl;
                long end = Math.min(total, start + pl);
                long pos = start;
                int fi = fileAt(entries, pos);
                while (pos < end) {
                    FileEntry e = entries.get(fi);
                    if (pos >= e.offset() + e.length()) {
                        fi++;
                        continue;
                    }
                    if (open[fi] == null) {
                        open[fi] = FileChannel.open(paths.get(fi), StandardOpenOption.READ);
                    }
                    long inFile = pos - e.offset();
                    int want = (int) Math.min(buf.capacity(), Math.min(end - pos, e.length() - inFile));
                    buf.clear().limit(want);
                    while (buf.hasRemaining()) {
                        int r = open[fi].read(buf, inFile + buf.position());
                        if (r < 0) {
                            throw new IOException(paths.get(fi) + " shrank while hashing");
                        }
                    }
                    buf.flip();
                    md.update(buf);
                    pos += want;
                }
                System.arraycopy(md.digest(), 0, out, i * 20, 20);
                hashed.add(end - start);
            }
        } finally {
            for (FileChannel c : open) {
                if (c != null) {
                    c.close();
                }
            }
        }
    }

    private static int fileAt(List<FileEntry> entries, long pos) {
        int lo = 0;
        int hi = entries.size() - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (entries.get(mid).offset() <= pos) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }
}
