package io.cowherd.qcow2;

import io.cowherd.CowException;
import io.cowherd.ImagePolicy;
import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A qcow2 image and its backing chain as a {@link VirtualDisk}. Reads follow L1 and L2
 * tables (standard or extended L2 entries, zero clusters) and fall through to the backing
 * image for unallocated clusters. Writes allocate clusters at the end of the file, copying
 * the rest of a partly written cluster from the chain, and update refcounts before any table
 * points at a new cluster, so an interrupted write can leak a cluster but never corrupt one.
 */
final class Qcow2Image implements VirtualDisk {
    static final long L2_COPIED = 1L << 63;
    static final long L2_COMPRESSED = 1L << 62;
    static final long L2_ZERO = 1L;
    private static final int SUBCLUSTERS = 32;

    private final ImageFile file;
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

    private enum Kind { HOST, ZERO, BACKING }

    /** A run of guest bytes that all come from one place. */
    private record Segment(Kind kind, long hostOffset, int length) {
    }

    private Qcow2Image(ImageFile file, Qcow2Header header, L1Table l1, VirtualDisk backing, boolean writable) {
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
        ImageFile file = new ImageFile(path, writable);
        VirtualDisk backing = null;
        try {
            Qcow2Header h = Qcow2Header.read(file);
            ImageFormats.checkSize(path, h.size, policy);
            if (writable) {
                checkWritable(path, h);
            }
            L1Table l1 = L1Table.read(file, h);
            if (h.backingFile != null) {
                backing = ImageFormats.openBacking(path, h.backingFile, h.backingFormat, policy, depth);
            }
            Qcow2Image image = new Qcow2Image(file, h, l1, backing, writable);
            if (writable) {
                image.refcounts = RefcountTable.read(file, h);
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
                    + "repair it with `qemu-img check -r all` before writing");
        }
        if (h.extendedL2()) {
            throw new UnsupportedFeatureException(path + ": writing images with extended L2 entries is not supported yet");
        }
        if (h.nbSnapshots > 0) {
            throw new UnsupportedFeatureException(path + " has " + h.nbSnapshots
                    + " internal snapshot(s); writing such images is not supported yet");
        }
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
                case ZERO -> fillZero(part);
                case BACKING -> readBacking(part, off);
            }
            dst.position(dst.position() + s.length);
            done += s.length;
        }
    }

    private void readBacking(ByteBuffer part, long off) throws IOException {
        if (backing == null || off >= backing.size()) {
            fillZero(part);
            return;
        }
        int fromBacking = (int) Math.min(part.remaining(), backing.size() - off);
        ByteBuffer b = part.slice().limit(fromBacking);
        backing.readFully(b, off);
        part.position(part.position() + fromBacking);
        fillZero(part);
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
            throw new UnsupportedFeatureException(file.path() + ": compressed cluster at L2 entry " + index
                    + " (offset " + (l2Offset + 8L * index) + "); reading compressed clusters is not supported yet");
        }
        long host = entry & L1Table.OFFSET_MASK;
        if (header.version >= 3 && (entry & L2_ZERO) != 0) {
            return new Segment(Kind.ZERO, 0, len);
        }
        if (host == 0) {
            return new Segment(Kind.BACKING, 0, len);
        }
        l2.checkDataOffset(l2Offset, index, host);
        // Extend over following clusters that are stored right after this one, for long reads.
        int total = len;
        int next = index + 1;
        while (total < max && next < header.l2Entries()) {
            long e = table[next];
            long h = e & L1Table.OFFSET_MASK;
            if ((e & (L2_COMPRESSED | L2_ZERO)) != 0 || h != host + (long) (next - index) * clusterSize) {
                break;
            }
            total += Math.min(max - total, clusterSize);
            next++;
        }
        return new Segment(Kind.HOST, host + inCluster, total);
    }

    private Segment extendedSegment(long[] table, long l2Offset, int index, int inCluster, int len) {
        long entry = table[2 * index];
        long bitmap = table[2 * index + 1];
        if ((entry & L2_COMPRESSED) != 0) {
            throw new UnsupportedFeatureException(file.path() + ": compressed cluster at L2 entry " + index
                    + "; reading compressed clusters is not supported yet");
        }
        long host = entry & L1Table.OFFSET_MASK;
        int subSize = clusterSize / SUBCLUSTERS;
        int sub = inCluster / subSize;
        int subLen = Math.min(len, (sub + 1) * subSize - inCluster);
        boolean allocated = (bitmap >>> sub & 1) != 0;
        boolean zero = (bitmap >>> (SUBCLUSTERS + sub) & 1) != 0;
        if (allocated && zero) {
            throw new io.cowherd.CorruptImageException(file.path(), "L2 subcluster bitmap " + index, l2Offset + 16L * index + 8,
                    "subcluster " + sub + " is both allocated and zero");
        }
        if (allocated) {
            if (host == 0) {
                throw new io.cowherd.CorruptImageException(file.path(), "L2 entry " + index, l2Offset + 16L * index,
                        "subcluster " + sub + " is allocated but the cluster has no host offset");
            }
            l2.checkDataOffset(l2Offset, 2 * index, host);
            return new Segment(Kind.HOST, host + inCluster, subLen);
        }
        return new Segment(zero ? Kind.ZERO : Kind.BACKING, 0, subLen);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        if (!writable) {
            throw new ReadOnlyVolumeException(file.path() + " is open read-only");
        }
        int n = src.remaining();
        if (position < 0 || position + n > header.size) {
            throw new IllegalArgumentException("write of " + n + " bytes at " + position + " lies outside the disk ("
                    + header.size + " bytes)");
        }
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
        long l2Offset = ensureL2(l1Index);
        int index = (int) ((off >>> clusterBits) & (header.l2Entries() - 1));
        long entry = l2.get(l2Offset)[index];
        if ((entry & L2_COMPRESSED) != 0) {
            throw new UnsupportedFeatureException(file.path() + ": writing over a compressed cluster is not supported yet");
        }
        long host = entry & L1Table.OFFSET_MASK;
        boolean zero = header.version >= 3 && (entry & L2_ZERO) != 0;
        if (host != 0) {
            l2.checkDataOffset(l2Offset, index, host);
        }
        if (host != 0 && !zero && (entry & L2_COPIED) != 0) {
            file.write(data, host + inCluster);
            return;
        }
        // Copy on write: the new cluster holds the old guest content with the new bytes on top.
        long clusterStart = off - inCluster;
        ByteBuffer cluster = ByteBuffer.allocate(clusterSize);
        if (data.remaining() < clusterSize) {
            int valid = (int) Math.min(clusterSize, header.size - clusterStart);
            readUnlocked(cluster.slice().limit(valid), clusterStart, valid);
        }
        cluster.position(inCluster);
        cluster.put(data);
        cluster.clear();
        long newHost = refcounts.allocateCluster();
        file.write(cluster, newHost);
        l2.set(l2Offset, index, newHost | L2_COPIED);
        if (host != 0) {
            refcounts.adjust(host, -1);
        }
    }

    /** The L2 table for {@code l1Index}, allocated (zeroed) if the image has none yet. */
    private long ensureL2(int l1Index) throws IOException {
        long l2Offset = l1.l2Offset(l1Index);
        if (l2Offset != 0) {
            if (!l1.copied(l1Index)) {
                throw new UnsupportedFeatureException(file.path() + ": L2 table " + l1Index
                        + " is shared (refcount above 1); writing shared tables is not supported yet");
            }
            return l2Offset;
        }
        long fresh = refcounts.allocateCluster();
        file.write(ByteBuffer.allocate(clusterSize), fresh);
        l2.putEmpty(fresh);
        l1.set(l1Index, fresh | L1Table.COPIED);
        return fresh;
    }

    @Override
    public void flush() throws IOException {
        if (writable) {
            file.force();
        }
    }

    @Override
    public void close() throws IOException {
        try {
            file.close();
        } finally {
            if (backing != null) {
                backing.close();
            }
        }
    }

    private static void fillZero(ByteBuffer b) {
        while (b.remaining() >= 8) {
            b.putLong(0);
        }
        while (b.hasRemaining()) {
            b.put((byte) 0);
        }
    }

    private static void closeQuietly(ImageFile file, VirtualDisk backing) {
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
