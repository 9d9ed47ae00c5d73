package io.cowherd.internal.io;

import io.cowherd.ReadOnlyVolumeException;
import io.cowherd.VirtualDisk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A block device as a {@link VirtualDisk}. Its size is given, because {@link FileChannel#size()}
 * reports 0 for block devices. An I/O error is first shown to {@code onError}, which can replace
 * it with a clearer one (a snapshot that overflowed). Used by the dm-snapshot and LVM backends.
 */
public final class BlockDeviceDisk implements VirtualDisk {
    /** Turns a device I/O error into the error to report. */
    public interface ErrorHandler {
        IOException translate(IOException e);
    }

    private final Path device;
    private final FileChannel channel;
    private final long size;
    private final boolean writable;
    private final ErrorHandler onError;

    public BlockDeviceDisk(Path device, long size, boolean writable, ErrorHandler onError) throws IOException {
        this.device = device;
        this.size = size;
        this.writable = writable;
        this.onError = onError;
        this.channel = writable ? FileChannel.open(device, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(device, StandardOpenOption.READ);
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
        try {
            while (slice.hasRemaining()) {
                if (channel.read(slice, position + slice.position()) < 0) {
                    throw new java.io.EOFException(device + " ends before its size " + size);
                }
            }
        } catch (IOException e) {
            throw onError.translate(e);
        }
        dst.position(dst.position() + want);
        return want;
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        if (!writable) {
            throw new ReadOnlyVolumeException(device + " is open read-only");
        }
        if (position < 0 || position + src.remaining() > size) {
            throw new IllegalArgumentException("write of " + src.remaining() + " bytes at " + position
                    + " lies outside the disk (" + size + " bytes)");
        }
        int total = 0;
        try {
            while (src.hasRemaining()) {
                total += channel.write(src, position + total);
            }
        } catch (IOException e) {
            throw onError.translate(e);
        }
        return total;
    }

    @Override
    public void flush() throws IOException {
        try {
            channel.force(true);
        } catch (IOException e) {
            throw onError.translate(e);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
