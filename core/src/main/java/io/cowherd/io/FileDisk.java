package io.cowherd.io;

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

    /** Opens {@code path}; its current length is the disk's size. */
    public FileDisk(Path path, boolean writable) throws IOException {
        this.path = path;
        this.writable = writable;
        this.channel = writable
                ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ);
        this.size = channel.size();
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

    @Override
    public Extent storedAt(long position, long max) {
        if (position >= size) {
            return null;
        }
        return new Extent(channel, position, Math.min(max, size - position));
    }

    /** Copies inside the kernel (sendfile or copy_file_range) when the source is a file too. */
    @Override
    public synchronized void writeFrom(Extent source, long position) throws IOException {
        if (!writable) {
            throw new ReadOnlyVolumeException(path + " is open read-only");
        }
        if (position < 0 || position + source.length() > size) {
            throw new IllegalArgumentException("write of " + source.length() + " bytes at " + position
                    + " lies outside the disk (" + size + " bytes)");
        }
        long done = 0;
        channel.position(position);
        while (done < source.length()) {
            long n = source.channel().transferTo(source.offset() + done, source.length() - done, channel);
            if (n <= 0) {
                // The source file ends early: what is missing reads as zeros.
                VirtualDisk.super.writeFrom(new Extent(source.channel(), source.offset() + done, source.length() - done),
                        position + done);
                return;
            }
            done += n;
        }
    }

    @Override
    public void flush() throws IOException {
        channel.force(true);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
