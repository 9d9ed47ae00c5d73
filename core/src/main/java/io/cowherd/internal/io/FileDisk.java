package io.cowherd.internal.io;

import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.VirtualDisk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** A raw image file or block device as a {@link VirtualDisk}: byte i of the disk is byte i of the file. */
public final class FileDisk implements VirtualDisk {
    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final boolean writable;
    /** The file's holes, for read-only disks (copy sources); null where the file system cannot tell. */
    private final HostFiles.Holes holes;

    /** Opens {@code path}; its current length is the disk's size. */
    public FileDisk(Path path, boolean writable) throws IOException {
        this.path = path;
        this.writable = writable;
        this.channel = writable
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ);
        this.size = channel.size();
        this.holes = writable ? null : HostFiles.Holes.open(path);
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
        if (position >= size) {
            return -1;
        }
        int want = (int) Math.min(dst.remaining(), size - position);
        ByteBuffer slice = dst.slice().limit(want);
        int total = 0;
        while (slice.hasRemaining()) {
            int n = channel.read(slice, position + total);
            if (n < 0) {
                // The file shrank under us: what is missing reads as zeros, like a sparse tail.
                while (slice.hasRemaining()) {
                    slice.put((byte) 0);
                }
                break;
            }
            total += n;
        }
        dst.position(dst.position() + want);
        return want;
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        if (!writable) {
            throw new ReadOnlyVolumeException(path + " is open read-only");
        }
        if (position < 0 || position + src.remaining() > size) {
            throw new IllegalArgumentException("write of " + src.remaining() + " bytes at " + position
                    + " lies outside the disk (" + size + " bytes)");
        }
        int total = 0;
        while (src.hasRemaining()) {
            total += channel.write(src, position + total);
        }
        return total;
    }

    /** The data run at {@code position}: up to the file's next hole. */
    @Override
    public Extent storedAt(long position, long max) {
        if (position >= size) {
            return null;
        }
        long end = position + Math.min(max, size - position);
        long hole = holes == null ? end : holes.nextHole(position, end);
        return hole > position ? new Extent(channel, position, hole - position) : null;
    }

    /** The file's hole at {@code position}, if the file system reports one: it reads as zeros. */
    @Override
    public long knownZeroes(long position, long max) {
        if (holes == null || position >= size) {
            return 0;
        }
        return holes.nextData(position, position + Math.min(max, size - position)) - position;
    }

    @Override
    public void flush() throws IOException {
        channel.force(true);
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            if (holes != null) {
                holes.close();
            }
        }
    }
}
