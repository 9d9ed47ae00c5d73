package io.cowherd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.SeekableByteChannel;

/** {@link SeekableByteChannel} view of a {@link VirtualDisk}; the disk's size is fixed. */
final class VirtualDiskChannel implements SeekableByteChannel {
    private final VirtualDisk disk;
    private long position;
    private boolean open = true;

    VirtualDiskChannel(VirtualDisk disk) {
        this.disk = disk;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        ensureOpen();
        int n = disk.read(dst, position);
        if (n > 0) {
            position += n;
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        ensureOpen();
        if (!disk.isWritable()) {
            throw new NonWritableChannelException();
        }
        int n = disk.write(src, position);
        position += n;
        return n;
    }

    @Override
    public long position() throws IOException {
        ensureOpen();
        return position;
    }

    @Override
    public SeekableByteChannel position(long newPosition) throws IOException {
        ensureOpen();
        if (newPosition < 0) {
            throw new IllegalArgumentException("negative position " + newPosition);
        }
        position = newPosition;
        return this;
    }

    @Override
    public long size() throws IOException {
        ensureOpen();
        return disk.size();
    }

    @Override
    public SeekableByteChannel truncate(long size) {
        throw new UnsupportedFeatureException("a virtual disk's size is changed by resize, not truncate");
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public void close() throws IOException {
        if (open) {
            open = false;
            disk.close();
        }
    }

    private void ensureOpen() throws ClosedChannelException {
        if (!open) {
            throw new ClosedChannelException();
        }
    }
}
