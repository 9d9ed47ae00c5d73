package io.cowherd.qcow2;

import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.HostFile;
import io.cowherd.CorruptImageException;
import io.cowherd.CowException;
import io.cowherd.ImagePolicy;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.spi.CompressingDisk;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A qcow2 image and its backing chain as a {@link VirtualDisk}.
 *
 * <p>Reads follow the L1 and L2 tables (standard or extended entries, zero and compressed
 * clusters) and fall through to the backing image for unallocated clusters.
 *
 * <p>Writes allocate clusters at the end of the file, copying the rest of a partly written
 * cluster from the chain, and copy any table or cluster shared with an internal snapshot
 * before changing it. Metadata changes wait in memory and reach the file in dependency
 * order on {@link #flush()}: data, then refcount increments, then L2 tables, then L1 entries,
 * then refcount decrements. Cut off anywhere in that order, the file holds a consistent image
 * that at worst leaks clusters, never one whose refcounts are too low.
 */
final class Qcow2Image implements VirtualDisk, CompressingDisk {
    static final long L2_COPIED = 1L << 63;
    static final long L2_COMPRESSED = 1L << 62;
    static final long L2_ZERO = 1L;
    private static final int SUBCLUSTERS = 32;

    private final HostFile file;
    private final Qcow2Header header;
    private final L1Table l1;
    private final L2Cache l2;
    private final VirtualDisk backing;
    private final boolean writable;
    private final int clusterSize;
    private final int clusterBits;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private RefcountTable refcounts;
    private boolean preparedForWrite;
    /** Host clusters whose references are gone from the in-memory tables, freed after they reach disk. */
    private final List<Long> pendingFrees = new ArrayList<>();
    /** Where the next compressed cluster goes (0: start a new host cluster). */
    private long compressedTail;
    private long lastDecompressedOffset = -1;
    private byte[] lastDecompressed;
    /**
     * Where a partly written cluster is put together (under the write lock): one buffer for the
     * image's life, not a new one per write, which made copies into qcow2 spend more time
     * allocating and collecting than writing.
     */
    private ByteBuffer cowCluster;

    private enum Kind { HOST, ZERO, BACKING, COMPRESSED }

    /** A run of guest bytes that all come from one place. */
    private record Segment(Kind kind, long hostOffset, int length, long entry) {
        Segment(Kind kind, long hostOffset, int length) {
            this(kind, hostOffset, length, 0);
        }
    }

    private Qcow2Image(HostFile file, Qcow2Header header, L1Table l1, VirtualDisk backing, boolean writable) {
        this.file = file;
        this.header = header;
        this.l1 = l1;
        this.l2 = new L2Cache(file, header.clusterSize(), L2Cache.DEFAULT_BUDGET_BYTES);
        this.backing = backing;
        this.writable = writable;
        this.clusterSize = header.clusterSize();
        this.clusterBits = header.clusterBits;
    }

    /** Opens {@code path} and, as {@code policy} allows, its backing chain. */
    static Qcow2Image open(Path path, ImagePolicy policy, boolean writable, int depth) {
        policy.checkFormat(path, Qcow2Format.NAME);
        HostFile file = new HostFile(path, writable);
        VirtualDisk backing = null;
        try {
            Qcow2Header h = Qcow2Header.read(file);
            ImageFormats.checkSize(path, h.size, policy);
            if (writable) {
                checkWritable(path, h);
            }
            if (h.nbSnapshots > 0) {
                SnapshotTable.read(file, h); // validates the table against QEMU's limits
            }
            L1Table l1 = L1Table.read(file, h);
            if (h.backingFile != null) {
                backing = ImageFormats.openBacking(path, h.backingFile, h.backingFormat, policy, depth);
            }
            Qcow2Image image = new Qcow2Image(file, h, l1, backing, writable);
            if (writable) {
                image.refcounts = RefcountTable.read(file, h);
                image.l2.onWrite(image.refcounts::flush);
            }
            return image;
        } catch (RuntimeException e) {
            closeQuietly(file, backing);
            throw e;
        }
    }

    private static void checkWritable(Path path, Qcow2Header h) {
        if ((h.incompatibleFeatures & Qcow2Header.INCOMPAT_CORRUPT) != 0) {
            throw new UnsupportedFeatureException(path + " is marked corrupt (incompatible_features bit 1); "
                    + "repair it with `qemu-img check -r all` before writing");
        }
        if ((h.incompatibleFeatures & Qcow2Header.INCOMPAT_DIRTY) != 0) {
            throw new UnsupportedFeatureException(path + " has the dirty bit set (lazy refcounts not yet rebuilt); "
                    + "repair it with `cowherd check -r all` or `qemu-img check -r all` before writing");
        }
    }

    Qcow2Header header() {
        return header;
    }

    @Override
    public long size() {
        return header.size;
    }

    @Override
    public boolean isWritable() {
        return writable;
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        if (position >= header.size) {
            return -1;
        }
        if (position < 0) {
            throw new IllegalArgumentException("negative position " + position);
        }
        int n = (int) Math.min(dst.remaining(), header.size - position);
        lock.readLock().lock();
        try {
            readUnlocked(dst, position, n);
        } finally {
            lock.readLock().unlock();
        }
        return n;
    }

    private void readUnlocked(ByteBuffer dst, long position, int n) throws IOException {
        int done = 0;
        while (done < n) {
            long off = position + done;
            Segment s = segment(off, n - done);
            ByteBuffer part = dst.slice().limit(s.length);
            switch (s.kind) {
                case HOST -> file.readData(part, s.hostOffset);
                case ZERO -> DiskCopier.fillZero(part);
                case BACKING -> readBacking(part, off);
                case COMPRESSED -> part.put(decompressed(s.entry), (int) (off & (clusterSize - 1)), s.length);
            }
            dst.position(dst.position() + s.length);
            done += s.length;
        }
    }

    private void readBacking(ByteBuffer part, long off) throws IOException {
        if (backing == null || off >= backing.size()) {
            DiskCopier.fillZero(part);
            return;
        }
        int fromBacking = (int) Math.min(part.remaining(), backing.size() - off);
        ByteBuffer b = part.slice().limit(fromBacking);
        backing.readFully(b, off);
        part.position(part.position() + fromBacking);
        DiskCopier.fillZero(part);
    }

    /** The whole guest content of a compressed cluster; the last one is kept for sequential reads. */
    private synchronized byte[] decompressed(long entry) throws IOException {
        CompressedCluster c = CompressedCluster.of(entry, clusterBits);
        if (c.hostOffset == lastDecompressedOffset) {
            return lastDecompressed;
        }
        if (c.length <= 0 || c.length > 2 * clusterSize) {
            throw new CorruptImageException(file.path(), "compressed cluster descriptor", c.hostOffset,
                    "claims " + c.length + " bytes for a " + clusterSize + "-byte cluster");
        }
        ByteBuffer src = ByteBuffer.allocate(c.length);
        file.readData(src, c.hostOffset);
        byte[] out = new byte[clusterSize];
        CompressedCluster.decompress(file.path(), c.hostOffset, header.version >= 3 ? header.compressionType : 0,
                src.array(), c.length, out);
        lastDecompressedOffset = c.hostOffset;
        lastDecompressed = out;
        return out;
    }

    /** Where the guest bytes at {@code off} (at most {@code max} of them) come from. */
    private Segment segment(long off, int max) {
        int inCluster = (int) (off & (clusterSize - 1));
        int len = Math.min(max, clusterSize - inCluster);
        long l1Index = off / header.bytesPerL1Entry();
        if (l1Index >= l1.size()) {
            return new Segment(Kind.BACKING, 0, len);
        }
        long l2Offset = l1.l2Offset((int) l1Index);
        if (l2Offset == 0) {
            // The whole L2 range is unallocated: one segment to its end.
            long rangeEnd = (l1Index + 1) * header.bytesPerL1Entry();
            return new Segment(Kind.BACKING, 0, (int) Math.min(max, rangeEnd - off));
        }
        long[] table = l2.get(l2Offset);
        int index = (int) ((off >>> clusterBits) & (header.l2Entries() - 1));
        if (header.extendedL2()) {
            return extendedSegment(table, l2Offset, index, inCluster, len);
        }
        long entry = table[index];
        if ((entry & L2_COMPRESSED) != 0) {
            return new Segment(Kind.COMPRESSED, 0, len, entry);
        }
        long host = entry & L1Table.OFFSET_MASK;
        if (header.version >= 3 && (entry & L2_ZERO) != 0) {
            return new Segment(Kind.ZERO, 0, len + sameKindAfter(table, index, max - len, true));
        }
        if (host == 0) {
            return new Segment(Kind.BACKING, 0, len + sameKindAfter(table, index, max - len, false));
        }
        l2.checkDataOffset(l2Offset, index, host);
        // Extend over following clusters that are stored right after this one, for long reads.
        int total = len;
        int next = index + 1;
        while (total < max && next < header.l2Entries()) {
            long e = table[next];
            long h = e & L1Table.OFFSET_MASK;
            if ((e & L2_COMPRESSED) != 0 || (header.version >= 3 && (e & L2_ZERO) != 0)
                    || h != host + (long) (next - index) * clusterSize) {
                break;
            }
            total += Math.min(max - total, clusterSize);
            next++;
        }
        return new Segment(Kind.HOST, host + inCluster, total);
    }

    /**
     * How many bytes (at most {@code max}) after cluster {@code index} of the same L2 table are
     * also zero clusters ({@code zero}) or also unallocated, so long reads take them in one go.
     */
    private int sameKindAfter(long[] table, int index, int max, boolean zero) {
        int total = 0;
        for (int next = index + 1; total < max && next < header.l2Entries(); next++) {
            long e = table[next];
            boolean same = zero ? header.version >= 3 && (e & L2_ZERO) != 0 && (e & L2_COMPRESSED) == 0
                    : e == 0 || (e & ~L2_COPIED) == 0;
            if (!same) {
                break;
            }
            total += Math.min(max - total, clusterSize);
        }
        return total;
    }

    private Segment extendedSegment(long[] table, long l2Offset, int index, int inCluster, int len) {
        long entry = table[2 * index];
        long bitmap = table[2 * index + 1];
        if ((entry & L2_COMPRESSED) != 0) {
            return new Segment(Kind.COMPRESSED, 0, len, entry);
        }
        long host = entry & L1Table.OFFSET_MASK;
        int subSize = clusterSize / SUBCLUSTERS;
        int sub = inCluster / subSize;
        int subLen = Math.min(len, (sub + 1) * subSize - inCluster);
        boolean allocated = (bitmap >>> sub & 1) != 0;
        boolean zero = (bitmap >>> (SUBCLUSTERS + sub) & 1) != 0;
        if (allocated && zero) {
            throw new CorruptImageException(file.path(), "L2 subcluster bitmap " + index, l2Offset + 16L * index + 8,
                    "subcluster " + sub + " is both allocated and zero");
        }
        if (allocated) {
            if (host == 0) {
                throw new CorruptImageException(file.path(), "L2 entry " + index, l2Offset + 16L * index,
                        "subcluster " + sub + " is allocated but the cluster has no host offset");
            }
            l2.checkDataOffset(l2Offset, 2 * index, host);
            return new Segment(Kind.HOST, host + inCluster, subLen);
        }
        return new Segment(zero ? Kind.ZERO : Kind.BACKING, 0, subLen);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        int n = src.remaining();
        checkWrite(position, n);
        lock.writeLock().lock();
        try {
            prepareForWrite();
            while (src.hasRemaining()) {
                long off = position + (n - src.remaining());
                int inCluster = (int) (off & (clusterSize - 1));
                int len = Math.min(src.remaining(), clusterSize - inCluster);
                ByteBuffer part = src.slice().limit(len);
                writeInCluster(off, inCluster, part);
                src.position(src.position() + len);
            }
        } finally {
            lock.writeLock().unlock();
        }
        return n;
    }

    private void checkWrite(long position, long n) {
        if (!writable) {
            throw new ReadOnlyVolumeException(file.path() + " is open read-only");
        }
        if (position < 0 || n < 0 || position + n > header.size) {
            throw new IllegalArgumentException("write of " + n + " bytes at " + position + " lies outside the disk ("
                    + header.size + " bytes)");
        }
    }

    /** Clears autoclear features once, before the first write: bitmaps and the like no longer match. */
    private void prepareForWrite() throws IOException {
        if (preparedForWrite) {
            return;
        }
        if (header.version >= 3 && header.autoclearFeatures != 0) {
            file.write(ByteBuffer.allocate(8), 88);
            header.autoclearFeatures = 0;
        }
        preparedForWrite = true;
    }

    private void writeInCluster(long off, int inCluster, ByteBuffer data) throws IOException {
        int l1Index = (int) (off / header.bytesPerL1Entry());
        long l2Offset = writableL2(l1Index);
        int index = (int) ((off >>> clusterBits) & (header.l2Entries() - 1));
        if (header.extendedL2()) {
            writeInSubclusters(off, inCluster, data, l2Offset, index);
            return;
        }
        long entry = l2.get(l2Offset)[index];
        boolean compressed = (entry & L2_COMPRESSED) != 0;
        long host = compressed ? 0 : entry & L1Table.OFFSET_MASK;
        boolean zero = !compressed && header.version >= 3 && (entry & L2_ZERO) != 0;
        if (host != 0) {
            l2.checkDataOffset(l2Offset, index, host);
        }
        if (host != 0 && !zero && (entry & L2_COPIED) != 0) {
            file.write(data, host + inCluster);
            return;
        }
        long newHost = refcounts.allocateCluster();
        if (data.remaining() == clusterSize) {
            file.write(data, newHost); // a whole cluster: nothing old to keep
        } else {
            // Copy on write: the new cluster holds the old guest content with the new bytes on top.
            long clusterStart = off - inCluster;
            if (cowCluster == null) {
                cowCluster = ByteBuffer.allocateDirect(clusterSize);
            }
            ByteBuffer cluster = cowCluster.clear();
            int valid = (int) Math.min(clusterSize, header.size - clusterStart);
            readUnlocked(cluster.slice(0, valid), clusterStart, valid);
            DiskCopier.fillZero(cluster.slice(valid, clusterSize - valid));
            cluster.position(inCluster);
            cluster.put(data);
            cluster.clear();
            file.write(cluster, newHost);
        }
        l2.set(l2Offset, index, newHost | L2_COPIED);
        release(entry);
    }

    /**
     * A write with extended L2 entries: only the 1/32-cluster subclusters it touches are
     * allocated; a partly touched subcluster first gets its previous content (zeros or the
     * backing image's), the rest of the cluster keeps showing what it showed.
     */
    private void writeInSubclusters(long off, int inCluster, ByteBuffer data, long l2Offset, int index)
            throws IOException {
        long[] table = l2.get(l2Offset);
        long desc = table[2 * index];
        long bitmap = table[2 * index + 1];
        long clusterStart = off - inCluster;
        if ((desc & L2_COMPRESSED) != 0) {
            // Whole-cluster copy on write; the new cluster is plain, every subcluster allocated.
            ByteBuffer cluster = ByteBuffer.allocate(clusterSize);
            int valid = (int) Math.min(clusterSize, header.size - clusterStart);
            readUnlocked(cluster.slice().limit(valid), clusterStart, valid);
            cluster.position(inCluster);
            cluster.put(data);
            cluster.clear();
            long host = refcounts.allocateCluster();
            file.write(cluster, host);
            l2.set(l2Offset, 2 * index, host | L2_COPIED);
            l2.set(l2Offset, 2 * index + 1, 0xffffffffL);
            release(desc);
            return;
        }
        long host = desc & L1Table.OFFSET_MASK;
        if (host != 0 && (desc & L2_COPIED) == 0 && refcounts.get(host) != 1) {
            throw new UnsupportedFeatureException(file.path() + ": writing a cluster shared with an internal snapshot "
                    + "in an image with extended L2 entries is not supported yet");
        }
        if (host == 0) {
            host = refcounts.allocateCluster();
        } else {
            l2.checkDataOffset(l2Offset, 2 * index, host);
        }
        int subSize = clusterSize / SUBCLUSTERS;
        int len = data.remaining();
        int first = inCluster / subSize;
        int last = (inCluster + len - 1) / subSize;
        for (int sc = first; sc <= last; sc++) {
            int scStart = sc * subSize;
            int from = Math.max(inCluster, scStart);
            int to = Math.min(inCluster + len, scStart + subSize);
            ByteBuffer part = data.slice(from - inCluster, to - from);
            boolean allocated = (bitmap >>> sc & 1) != 0;
            if (allocated) {
                file.write(part, host + from);
                continue;
            }
            ByteBuffer sub = ByteBuffer.allocate(subSize);
            boolean zero = (bitmap >>> (SUBCLUSTERS + sc) & 1) != 0;
            long guest = clusterStart + scStart;
            int valid = (int) Math.max(0, Math.min(subSize, header.size - guest));
            if (!zero && valid > 0) {
                readBacking(sub.slice().limit(valid), guest);
            }
            sub.position(from - scStart);
            sub.put(part);
            sub.clear();
            file.write(sub, host + scStart);
        }
        long touched = (last == 31 ? 0xffffffffL : (1L << (last + 1)) - 1) & ~((1L << first) - 1);
        bitmap = (bitmap | touched) & ~(touched << SUBCLUSTERS);
        l2.set(l2Offset, 2 * index, host | L2_COPIED);
        l2.set(l2Offset, 2 * index + 1, bitmap);
        data.position(data.limit());
    }

    /** Queues the host clusters an L2 entry referenced for freeing once the tables no longer point at them. */
    private void release(long entry) {
        if ((entry & L2_COMPRESSED) != 0) {
            CompressedCluster c = CompressedCluster.of(entry, clusterBits);
            for (long k = c.firstCluster(clusterSize); k <= c.lastCluster(clusterSize); k++) {
                pendingFrees.add(k * clusterSize);
            }
            return;
        }
        long host = entry & L1Table.OFFSET_MASK;
        if (host != 0) {
            pendingFrees.add(host);
        }
    }

    /**
     * The L2 table for {@code l1Index}, ready to change: allocated (zeroed) if the image has none
     * yet, copied first if an internal snapshot shares it.
     */
    private long writableL2(int l1Index) throws IOException {
        long l2Offset = l1.l2Offset(l1Index);
        if (l2Offset != 0 && l1.copied(l1Index)) {
            return l2Offset;
        }
        if (l2Offset != 0 && refcounts.get(l2Offset) == 1) {
            // Only this image references it: the flag was merely missing.
            l1.set(l1Index, l2Offset | L1Table.COPIED);
            return l2Offset;
        }
        long[] words = l2Offset == 0 ? new long[clusterSize / 8] : l2.get(l2Offset).clone();
        long fresh = refcounts.allocateCluster();
        l2.putNew(fresh, words);
        l1.set(l1Index, fresh | L1Table.COPIED);
        if (l2Offset != 0) {
            pendingFrees.add(l2Offset);
        }
        return fresh;
    }

    @Override
    public Extent storedAt(long position, long max) throws IOException {
        if (position >= header.size) {
            return null;
        }
        long limit = Math.min(max, header.size - position);
        lock.readLock().lock();
        try {
            Segment s = segment(position, (int) Math.min(limit, Integer.MAX_VALUE));
            return switch (s.kind) {
                case HOST -> new Extent(file.channel(), s.hostOffset, s.length);
                case BACKING -> backing == null || position >= backing.size() ? null
                        : backing.storedAt(position, Math.min(s.length, backing.size() - position));
                default -> null;
            };
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public long knownZeroes(long position, long max) throws IOException {
        if (position >= header.size) {
            return 0;
        }
        long limit = Math.min(max, header.size - position);
        long done = 0;
        lock.readLock().lock();
        try {
            while (done < limit) {
                long off = position + done;
                Segment s = segment(off, (int) Math.min(limit - done, Integer.MAX_VALUE));
                long zero;
                if (s.kind == Kind.ZERO) {
                    zero = s.length;
                } else if (s.kind == Kind.BACKING) {
                    if (backing == null || off >= backing.size()) {
                        zero = s.length;
                    } else {
                        zero = backing.knownZeroes(off, Math.min(s.length, backing.size() - off));
                        if (zero < s.length && off + zero < backing.size()) {
                            return done + zero;
                        }
                        zero = s.length;
                    }
                } else {
                    break;
                }
                done += zero;
            }
        } finally {
            lock.readLock().unlock();
        }
        return done;
    }

    /**
     * Whether this image itself defines the guest cluster at {@code clusterStart} (data, zero
     * or compressed), rather than leaving it to the backing image.
     */
    boolean ownsCluster(long clusterStart) {
        lock.readLock().lock();
        try {
            long l1Index = clusterStart / header.bytesPerL1Entry();
            if (l1Index >= l1.size()) {
                return false;
            }
            long l2Offset = l1.l2Offset((int) l1Index);
            if (l2Offset == 0) {
                return false;
            }
            int index = (int) ((clusterStart >>> clusterBits) & (header.l2Entries() - 1));
            long[] table = l2.get(l2Offset);
            if (header.extendedL2()) {
                return table[2 * index + 1] != 0 || (table[2 * index] & L2_COMPRESSED) != 0;
            }
            long entry = table[index];
            return (entry & (L2_COMPRESSED | L1Table.OFFSET_MASK)) != 0 || header.version >= 3 && (entry & L2_ZERO) != 0;
        } finally {
            lock.readLock().unlock();
        }
    }

    int clusterSize() {
        return clusterSize;
    }

    @Override
    public int compressionUnit() {
        return clusterSize;
    }

    @Override
    public void writeCompressed(long offset, byte[] content) throws IOException {
        writeCompressedCluster(offset, content);
    }

    @Override
    public void writeZeroes(long position, long length) throws IOException {
        changeRange(position, length, false);
    }

    @Override
    public void discard(long position, long length) throws IOException {
        changeRange(position, length, true);
    }

    /**
     * Zeroes (or discards) a range: whole clusters become zero clusters (v3) or, with nothing
     * underneath to show through, unallocated ones; the ragged ends get zero bytes written.
     */
    private void changeRange(long position, long length, boolean discard) throws IOException {
        checkWrite(position, length);
        lock.writeLock().lock();
        try {
            prepareForWrite();
            long end = position + length;
            long off = position;
            while (off < end) {
                int inCluster = (int) (off & (clusterSize - 1));
                long clusterEnd = Math.min(off - inCluster + clusterSize, header.size);
                int len = (int) (Math.min(end, clusterEnd) - off);
                boolean whole = inCluster == 0 && off + len == clusterEnd;
                if (whole && header.extendedL2()) {
                    // Every subcluster reads as zero; the host cluster (if any) is freed.
                    int l1Index = (int) (off / header.bytesPerL1Entry());
                    long l2Offset = writableL2(l1Index);
                    int index = (int) ((off >>> clusterBits) & (header.l2Entries() - 1));
                    long desc = l2.get(l2Offset)[2 * index];
                    l2.set(l2Offset, 2 * index, 0);
                    l2.set(l2Offset, 2 * index + 1, 0xffffffffL << SUBCLUSTERS);
                    release(desc);
                } else if (whole && (header.version >= 3 || backing == null)) {
                    int l1Index = (int) (off / header.bytesPerL1Entry());
                    if (l1.l2Offset(l1Index) != 0 || header.version >= 3 && backing != null) {
                        long l2Offset = writableL2(l1Index);
                        int index = (int) ((off >>> clusterBits) & (header.l2Entries() - 1));
                        long entry = l2.get(l2Offset)[index];
                        long replacement = header.version >= 3 && (backing != null || !discard) ? L2_ZERO : 0;
                        if (entry != replacement) {
                            l2.set(l2Offset, index, replacement);
                            release(entry);
                        }
                    }
                } else {
                    writeInCluster(off, inCluster, ByteBuffer.allocate(len));
                }
                off += len;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Writes one whole guest cluster compressed (raw deflate), for {@code convert -c}; falls back
     * to a normal write when compression does not pay. The target cluster must be unallocated.
     */
    void writeCompressedCluster(long clusterStart, byte[] content) throws IOException {
        checkWrite(clusterStart, content.length);
        if (header.extendedL2()) {
            throw new UnsupportedFeatureException(file.path() + ": writing compressed clusters with extended L2 entries "
                    + "is not supported");
        }
        if (header.version >= 3 && header.compressionType != CompressedCluster.TYPE_DEFLATE) {
            throw new UnsupportedFeatureException(file.path() + ": writing zstd-compressed clusters is not supported");
        }
        byte[] packed = content.length == clusterSize ? CompressedCluster.deflate(content) : null;
        lock.writeLock().lock();
        try {
            prepareForWrite();
            int l1Index = (int) (clusterStart / header.bytesPerL1Entry());
            long l2Offset = writableL2(l1Index);
            int index = (int) ((clusterStart >>> clusterBits) & (header.l2Entries() - 1));
            long old = l2.get(l2Offset)[index];
            if (packed == null) {
                writeInCluster(clusterStart, 0, ByteBuffer.wrap(content));
                return;
            }
            long at = compressedSpace(packed.length);
            file.write(ByteBuffer.wrap(packed), at);
            l2.set(l2Offset, index, CompressedCluster.entry(at, packed.length, clusterBits));
            release(old);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Byte space for compressed data: packed after the previous compressed cluster when it fits
     * in the same host cluster (each compressed cluster adds one to the refcount of the host
     * cluster it lies in), else at the start of a new one. Compressed data is always smaller
     * than a cluster, so it never spans two.
     */
    private long compressedSpace(int length) throws IOException {
        long tail = compressedTail;
        long at;
        if (tail % clusterSize != 0 && (tail % clusterSize) + length <= clusterSize) {
            refcounts.adjust(tail, +1);
            at = tail;
        } else {
            at = refcounts.allocateCluster();
        }
        compressedTail = at + length;
        return at;
    }

    @Override
    public void flush() throws IOException {
        if (!writable) {
            return;
        }
        lock.writeLock().lock();
        try {
            writeMetadata(true);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Writes waiting metadata in dependency order. With {@code durable}, a barrier (fsync)
     * separates the steps so the order also holds across a power cut; without, the order of the
     * writes alone keeps the image consistent if the process dies.
     */
    private void writeMetadata(boolean durable) throws IOException {
        barrier(durable);
        if (refcounts.dirty()) {
            refcounts.flush();
            barrier(durable);
        }
        if (l2.dirty()) {
            l2.flush();
            barrier(durable);
        }
        if (l1.dirty()) {
            l1.flush();
            barrier(durable);
        }
        if (!pendingFrees.isEmpty()) {
            for (long host : pendingFrees) {
                refcounts.adjust(host, -1);
            }
            pendingFrees.clear();
            refcounts.flush();
            barrier(durable);
        }
    }

    private void barrier(boolean durable) throws IOException {
        if (durable) {
            file.force();
        }
    }

    /**
     * Writes waiting metadata (in dependency order) and closes. Like closing a file, this hands
     * everything to the operating system without forcing it to disk; call {@link #flush()} first
     * for durability.
     */
    @Override
    public void close() throws IOException {
        try {
            if (writable) {
                lock.writeLock().lock();
                try {
                    writeMetadata(false);
                } finally {
                    lock.writeLock().unlock();
                }
            }
        } finally {
            try {
                file.close();
            } finally {
                if (backing != null) {
                    backing.close();
                }
            }
        }
    }

    private static void closeQuietly(HostFile file, VirtualDisk backing) {
        try {
            file.close();
            if (backing != null) {
                backing.close();
            }
        } catch (IOException | CowException e) {
            // the error that got us here matters more
        }
    }
}
