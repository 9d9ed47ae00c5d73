package io.cowherd.distribution.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One client's socket: big-endian reads on the connection's own thread, and whole-message writes
 * under a lock, since replies to parallel reads are sent from several threads.
 */
final class Wire {
    private final SocketChannel channel;
    private final ByteBuffer in = ByteBuffer.allocateDirect(64);
    private final ReentrantLock writeLock = new ReentrantLock();

    Wire(SocketChannel channel) {
        this.channel = channel;
    }

    /** Reads exactly {@code n} (at most 64) bytes into the header buffer and returns it for reading. */
    ByteBuffer read(int n) throws IOException {
        in.clear().limit(n);
        readFully(in);
        return in.flip();
    }

    void readFully(ByteBuffer dst) throws IOException {
        while (dst.hasRemaining()) {
            if (channel.read(dst) < 0) {
                throw new EOFException("client closed the connection");
            }
        }
    }

    /** Reads and drops {@code n} bytes (an option or a write payload we refuse). */
    void skip(long n) throws IOException {
        ByteBuffer scratch = ByteBuffer.allocate((int) Math.min(n, 1 << 16));
        long left = n;
        while (left > 0) {
            scratch.clear().limit((int) Math.min(left, scratch.capacity()));
            readFully(scratch);
            left -= scratch.limit();
        }
    }

    /** Sends the buffers as one message: no other reply can come between them. */
    void write(ByteBuffer... buffers) throws IOException {
        writeLock.lock();
        try {
            long left = 0;
            for (ByteBuffer b : buffers) {
                left += b.remaining();
            }
            while (left > 0) {
                left -= channel.write(buffers);
            }
        } finally {
            writeLock.unlock();
        }
    }

    void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // Nothing left to tell the client.
        }
    }

    boolean isOpen() {
        return channel.isOpen();
    }
}
