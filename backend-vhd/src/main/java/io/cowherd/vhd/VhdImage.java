package io.cowherd.vhd;

import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.io.HostFile;
import io.cowherd.CowException;
import io.cowherd.ImagePolicy;
import io.cowherd.ReadOnlyVolumeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A fixed, dynamic or differencing VHD and its parent chain as a {@link io.cowherd.VirtualDisk}.
 *
 * <p>Reads of a dynamic or differencing disk follow the block allocation table and each block's
 * sector bitmap: a set bit reads this file, a clear bit reads the parent (or zeros).
 *
 * <p>Writes allocate a block where the footer stands, in an order that lets a crash (even
 * {@code kill -9} halfway) leak a block but never corrupt the image: first the footer is written
 * at the new end of the file (so a valid footer always ends the file), then the block's data and
 * bitmap, and only then the table entry that makes the block part of the disk. Writes into an
 * allocated block write the data before setting its bitmap bits, so an interrupted write shows
 * the old bytes, never garbage.
 */
final class VhdImage implements io.cowherd.VirtualDisk {
    private static final Logger LOG = LoggerFactory.getLogger(VhdImage.class);
    /** Bitmaps kept in memory; a full one is shared, so this bounds only partial ones. */
    private static final int BITMAP_CACHE_ENTRIES = 8192;

    private final HostFile file;
    private final VhdMetadata meta;
    private final VhdFooter footer;
    private final DynamicHeader header;
    private final BlockAllocationTable bat;
    private final VhdImage parent;
    private final boolean writable;
    private final long size;
    private final int blockSize;
    private final int bitmapBytes;
    private final int sectorsPerBlock;
    private final SectorBitmap fullBitmap;
    private final Map<Integer, SectorBitmap> bitmaps = new ConcurrentHashMap<>();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private byte[] footerBytes;
    /** Where the next block goes; the footer stands there. */
    private long nextFree;

    private VhdImage(HostFile file, VhdMetadata meta, VhdImage parent, boolean writable) {
        this.file = file;
        this.meta = meta;
        this.footer = meta.footer;
        this.header = meta.header;
        this.bat = meta.bat;
        this.parent = parent;
        this.writable = writable;
        this.size = meta.footer.currentSize;
        this.blockSize = header == null ? 0 : header.blockSize;
        this.bitmapBytes = header == null ? 0 : header.bitmapBytes();
        this.sectorsPerBlock = blockSize / VhdLayout.SECTOR;
        this.fullBitmap = header == null ? null
                : new SectorBitmap(SectorBitmap.allOnes(bitmapBytes, sectorsPerBlock), sectorsPerBlock);
        this.footerBytes = footer.toBytes();
        this.nextFree = meta.footerOffset;
    }

    /** Opens {@code path} and, for a differencing disk, its parent chain (read-only). */
    static VhdImage open(Path path, ImagePolicy policy, boolean writable, int depth) {
        policy.checkFormat(path, VhdFormat.NAME);
        HostFile file = new HostFile(path, writable);
        VhdImage parent = null;
        try {
            VhdMetadata meta = VhdMetadata.read(file, policy);
            if (meta.footer.isDifferencing()) {
                VhdMetadata.ResolvedParent rp = meta.resolveParent(file, policy, depth);
                policy.checkFormat(rp.path(), VhdFormat.NAME);
                parent = open(rp.path(), policy, false, depth + 1);
                meta.checkParent(path, rp.path(), parent.footer);
            }
            VhdImage image = new VhdImage(file, meta, parent, writable);
            if (writable && (meta.footerMissing || meta.staleFooterCopy)) {
                image.repairFooters();
            }
            return image;
        } catch (RuntimeException e) {
            closeQuietly(file, parent);
            throw e;
        }
    }

    /** Rewrites the end footer (after a crash cut it off) and the copy at offset 0, and trims the tail. */
    void repairFooters() {
        try {
            LOG.info("{}: restoring the VHD footer at {} (missing {}, stale copy {})", file.path(), nextFree,
                    meta.footerMissing, meta.staleFooterCopy);
            file.write(footerBytes, nextFree);
            file.truncate(nextFree + VhdFooter.SIZE);
            if (!footer.isFixed()) {
                file.write(footerBytes, 0);
            }
            file.force();
        } catch (IOException e) {
            throw io.cowherd.CowIOException.wrap(file.path(), "repairing the footer of", e);
        }
    }

    VhdFooter footer() {
        return footer;
    }

    DynamicHeader header() {
        return header;
    }

    VhdMetadata metadata() {
        return meta;
    }

    HostFile file() {
        return file;
    }

    VhdImage parent() {
        return parent;
    }

    long nextFree() {
        return nextFree;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isWritable() {
        return writable;
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        if (position < 0) {
            throw new IllegalArgumentException("negative position " + position);
        }
        if (position >= size) {
            return -1;
        }
        int n = (int) Math.min(dst.remaining(), size - position);
        lock.readLock().lock();
        try {
            ByteBuffer part = dst.slice().limit(n);
            readUnlocked(part, position);
            dst.position(dst.position() + n);
        } finally {
            lock.readLock().unlock();
        }
        return n;
    }

    /** Fills {@code dst} completely with the guest bytes at {@code position} (inside the disk). */
    private void readUnlocked(ByteBuffer dst, long position) throws IOException {
        if (header == null) {
            file.readData(dst, position);
            return;
        }
        long off = position;
        while (dst.hasRemaining()) {
            int block = (int) (off / blockSize);
            int inBlock = (int) (off % blockSize);
            long blockOff = bat.blockOffset(block);
            if (blockOff < 0) {
                // Unallocated: one parent read across every following unallocated block.
                long len = Math.min(dst.remaining(), blockSize - inBlock);
                int b = block + 1;
                while (len < dst.remaining() && b < bat.size() && !bat.isAllocated(b)) {
                    len += Math.min(dst.remaining() - len, blockSize);
                    b++;
                }
                ByteBuffer part = dst.slice().limit((int) len);
                readParent(part, off);
                dst.position(dst.position() + (int) len);
                off += len;
                continue;
            }
            int len = Math.min(dst.remaining(), blockSize - inBlock);
            SectorBitmap bm = bitmap(block, blockOff);
            long data = blockOff + bitmapBytes;
            if (bm.isFull()) {
                ByteBuffer part = dst.slice().limit(len);
                file.readData(part, data + inBlock);
            } else {
                int cur = inBlock;
                int end = inBlock + len;
                while (cur < end) {
                    int s = cur / VhdLayout.SECTOR;
                    int run = bm.runLength(s, sectorsPerBlock - s);
                    int runEnd = Math.min(end, (s + run) * VhdLayout.SECTOR);
                    ByteBuffer part = dst.slice().limit(runEnd - cur);
                    if (bm.isSet(s)) {
                        file.readData(part, data + cur);
                    } else {
                        readParent(part, off + (cur - inBlock));
                    }
                    dst.position(dst.position() + (runEnd - cur));
                    cur = runEnd;
                }
                off += len;
                continue;
            }
            dst.position(dst.position() + len);
            off += len;
        }
    }

    /** Stored runs: a fixed disk's file, a fully written block's data, or the parent's for an empty block. */
    @Override
    public Extent storedAt(long position, long max) throws IOException {
        if (position < 0 || position >= size) {
            return null;
        }
        long limit = Math.min(max, size - position);
        if (header == null) {
            return new Extent(file.channel(), position, limit);
        }
        lock.readLock().lock();
        try {
            int block = (int) (position / blockSize);
            int inBlock = (int) (position % blockSize);
            long len = Math.min(limit, blockSize - inBlock);
            long blockOff = bat.blockOffset(block);
            if (blockOff < 0) {
                return parent == null || position >= parent.size ? null
                        : parent.storedAt(position, Math.min(len, parent.size - position));
            }
            if (!bitmap(block, blockOff).isFull()) {
                return null;
            }
            return new Extent(file.channel(), blockOff + bitmapBytes + inBlock, len);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Unallocated blocks read as zeros without a parent, or as whatever the parent says. */
    @Override
    public long knownZeroes(long position, long max) throws IOException {
        if (header == null || position < 0 || position >= size) {
            return 0;
        }
        long limit = Math.min(max, size - position);
        long done = 0;
        lock.readLock().lock();
        try {
            while (done < limit) {
                long off = position + done;
                int block = (int) (off / blockSize);
                long len = Math.min(limit - done, blockSize - off % blockSize);
                if (bat.blockOffset(block) >= 0) {
                    break;
                }
                if (parent != null && off < parent.size) {
                    long z = parent.knownZeroes(off, Math.min(len, parent.size - off));
                    if (z < Math.min(len, parent.size - off)) {
                        return done + z;
                    }
                }
                done += len;
            }
        } finally {
            lock.readLock().unlock();
        }
        return done;
    }

    private void readParent(ByteBuffer part, long off) throws IOException {
        if (parent == null || off >= parent.size) {
            DiskCopier.fillZero(part);
            return;
        }
        int fromParent = (int) Math.min(part.remaining(), parent.size - off);
        ByteBuffer p = part.slice().limit(fromParent);
        parent.lock.readLock().lock();
        try {
            parent.readUnlocked(p, off);
        } finally {
            parent.lock.readLock().unlock();
        }
        part.position(part.position() + fromParent);
        DiskCopier.fillZero(part);
    }

    /** The sector bitmap of an allocated block, cached. */
    SectorBitmap bitmap(int block, long blockOff) {
        SectorBitmap bm = bitmaps.get(block);
        if (bm == null) {
            byte[] raw = file.readMetadata(blockOff, bitmapBytes, "sector bitmap of block " + block);
            bm = new SectorBitmap(raw, sectorsPerBlock);
            if (bm.isFull()) {
                bm = fullBitmap;
            }
            if (bitmaps.size() >= BITMAP_CACHE_ENTRIES) {
                bitmaps.clear();
            }
            bitmaps.put(block, bm);
        }
        return bm;
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        if (!writable) {
            throw new ReadOnlyVolumeException(file.path() + " is open read-only");
        }
        int n = src.remaining();
        if (position < 0 || position + n > size) {
            throw new IllegalArgumentException("write of " + n + " bytes at " + position + " lies outside the disk ("
                    + size + " bytes)");
        }
        lock.writeLock().lock();
        try {
            if (header == null) {
                file.write(src, position);
                return n;
            }
            while (src.hasRemaining()) {
                long off = position + (n - src.remaining());
                int block = (int) (off / blockSize);
                int inBlock = (int) (off % blockSize);
                int len = Math.min(src.remaining(), blockSize - inBlock);
                ByteBuffer part = src.slice().limit(len);
                writeInBlock(block, inBlock, part, off);
                src.position(src.position() + len);
            }
        } finally {
            lock.writeLock().unlock();
        }
        return n;
    }

    private void writeInBlock(int block, int inBlock, ByteBuffer data, long guestOff) throws IOException {
        int len = data.remaining();
        int firstSector = inBlock / VhdLayout.SECTOR;
        int endSector = (inBlock + len + VhdLayout.SECTOR - 1) / VhdLayout.SECTOR;
        long blockOff = bat.blockOffset(block);
        SectorBitmap bm = blockOff < 0 ? null : bitmap(block, blockOff);
        if (bm != null && bm.allSet(firstSector, endSector)) {
            // Every sector touched is already this file's: write in place.
            file.write(data, blockOff + bitmapBytes + inBlock);
            return;
        }
        // Bits are set a whole bitmap byte (8 sectors, 4 KiB) at a time, the rest filled with the
        // current bytes: libvhdi misreads a byte that mixes set and clear bits.
        int groupStart = firstSector / 8 * 8;
        int groupEnd = Math.min(sectorsPerBlock, (endSector + 7) / 8 * 8);
        ByteBuffer payload = widened(data, guestOff - inBlock, groupStart, groupEnd, inBlock);
        int payloadAt = groupStart * VhdLayout.SECTOR;
        if (blockOff < 0) {
            allocate(block, payload, payloadAt, groupStart, groupEnd);
            return;
        }
        file.write(payload, blockOff + bitmapBytes + payloadAt);
        byte[] bits = bm.withSet(groupStart, groupEnd);
        // Data first, bits second: an interrupted write leaves the old bytes visible.
        writeBitmapSectors(blockOff, bits, groupStart, groupEnd);
        SectorBitmap updated = new SectorBitmap(bits, sectorsPerBlock);
        bitmaps.put(block, updated.isFull() ? fullBitmap : updated);
    }

    /** Sectors {@code from..to} of the block: {@code data} laid over the bytes the guest sees now. */
    private ByteBuffer widened(ByteBuffer data, long blockGuestStart, int from, int to, int inBlock)
            throws IOException {
        int start = from * VhdLayout.SECTOR;
        int end = to * VhdLayout.SECTOR;
        if (start == inBlock && end == inBlock + data.remaining()) {
            return data;
        }
        ByteBuffer buf = ByteBuffer.allocate(end - start);
        int head = inBlock - start;
        if (head > 0) {
            readUnlocked(buf.slice(0, head), blockGuestStart + start);
        }
        int tail = head + data.remaining();
        if (tail < buf.capacity()) {
            readUnlocked(buf.slice(tail, buf.capacity() - tail), blockGuestStart + start + tail);
        }
        buf.position(head);
        buf.put(data.duplicate());
        buf.clear();
        return buf;
    }

    /**
     * Places a new block where the footer stands. Order matters for crash safety: the footer moves
     * to the new end first, then data and bitmap are written, and the table entry comes last.
     */
    private void allocate(int block, ByteBuffer payload, int payloadAt, int firstSector, int endSector)
            throws IOException {
        long at = nextFree;
        long end = at + bitmapBytes + blockSize;
        if (end / VhdLayout.SECTOR >= 0xFFFFFFFFL) {
            throw new CowException(file.path() + ": no room for another block (the table addresses 2 TiB of file)");
        }
        file.write(footerBytes, end);
        file.write(payload, at + bitmapBytes + payloadAt);
        byte[] bits = footer.isDifferencing()
                ? new SectorBitmap(new byte[bitmapBytes], sectorsPerBlock).withSet(firstSector, endSector)
                : SectorBitmap.allOnes(bitmapBytes, sectorsPerBlock);
        file.write(bits, at);
        bat.set(file, block, at);
        nextFree = end;
        SectorBitmap bm = new SectorBitmap(bits, sectorsPerBlock);
        bitmaps.put(block, bm.isFull() ? fullBitmap : bm);
    }

    private void writeBitmapSectors(long blockOff, byte[] bits, int firstSector, int endSector) throws IOException {
        int fromByte = (firstSector / 8) / VhdLayout.SECTOR * VhdLayout.SECTOR;
        int toByte = (int) VhdLayout.roundUp((endSector + 7) / 8);
        file.write(ByteBuffer.wrap(bits, fromByte, toByte - fromByte), blockOff + fromByte);
    }

    /** Drops every block of this differencing or dynamic disk (after a commit), trimming the file. */
    void emptyAllBlocks() throws IOException {
        lock.writeLock().lock();
        try {
            byte[] table = BlockAllocationTable.emptyBytes(header.maxTableEntries);
            file.write(table, header.tableOffset);
            for (int i = 0; i < bat.size(); i++) {
                bat.forget(i);
            }
            bitmaps.clear();
            long end = VhdMetadata.metadataEnd(header, meta.headerOffset, bat);
            file.write(footerBytes, end);
            file.truncate(end + VhdFooter.SIZE);
            nextFree = end;
            file.force();
        } finally {
            lock.writeLock().unlock();
        }
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
            if (parent != null) {
                parent.close();
            }
        }
    }

    int blockSize() {
        return blockSize;
    }

    BlockAllocationTable bat() {
        return bat;
    }

    private static void closeQuietly(HostFile file, VhdImage parent) {
        try {
            file.close();
            if (parent != null) {
                parent.close();
            }
        } catch (IOException | CowException e) {
            // the error that got us here matters more
        }
    }
}
