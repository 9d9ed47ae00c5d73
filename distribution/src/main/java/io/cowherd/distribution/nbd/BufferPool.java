package io.cowherd.distribution.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * Direct buffers for read replies, reused: a direct buffer goes from the file to the socket with
 * no copy through the JDK's temporary buffers, and reuse spares allocating one per request.
 * Requests larger than a pooled buffer get a heap buffer of their own.
 */
final class BufferPool {
    static final int BUFFER_SIZE = 1 << 20;
    private final ArrayBlockingQueue<ByteBuffer> free;

    BufferPool(int buffers) {
        free = new ArrayBlockingQueue<>(buffers);
    }

    ByteBuffer take(int length) {
        if (length > BUFFER_SIZE) {
            return ByteBuffer.allocate(length);
        }
        ByteBuffer b = free.poll();
        if (b == null) {
            b = ByteBuffer.allocateDirect(BUFFER_SIZE);
        }
        return b.clear().limit(length);
    }

    void give(ByteBuffer b) {
        if (b.isDirect()) {
            free.offer(b); // dropped if the pool is full: the GC frees it
        }
    }
}
