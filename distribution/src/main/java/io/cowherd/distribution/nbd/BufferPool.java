package io.cowherd.distribution.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Direct buffers for read replies, reused: a direct buffer goes from the file to the socket with
 * no copy through the JDK's temporary buffers, and reuse spares allocating one per request.
 * Requests larger than a pooled buffer, and requests made while every pooled buffer is out (many
 * reads waiting for their pieces), get a heap buffer of their own: direct memory stays bounded.
 */
final class BufferPool {
    static final int BUFFER_SIZE = 1 << 20;
    private final ArrayBlockingQueue<ByteBuffer> free;
    private final AtomicInteger unallocated;

    BufferPool(int buffers) {
        free = new ArrayBlockingQueue<>(buffers);
        unallocated = new AtomicInteger(buffers);
    }

    ByteBuffer take(int length) {
        if (length > BUFFER_SIZE) {
            return ByteBuffer.allocate(length);
        }
        ByteBuffer b = free.poll();
        if (b == null) {
            if (unallocated.getAndUpdate(n -> Math.max(0, n - 1)) == 0) {
                return ByteBuffer.allocate(length);
            }
            b = ByteBuffer.allocateDirect(BUFFER_SIZE);
        }
        return b.clear().limit(length);
    }

    void give(ByteBuffer b) {
        if (b.isDirect()) {
            free.offer(b); // always fits: no more direct buffers exist than the queue holds
        }
    }
}
