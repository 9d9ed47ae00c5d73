package io.cowherd.distribution.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Direct buffers of one size, reused. A direct buffer goes from a file to a socket with no copy
 * through the JDK's temporary buffers, and reuse spares a fresh buffer per use: on these machines
 * zeroing a new array and faulting in its pages cost more than hashing the piece read into it.
 * A request larger than the size, or made while every pooled buffer is out, gets a heap buffer of
 * its own, so direct memory stays bounded by {@code buffers * size}.
 */
public final class BufferPool {
    private final int size;
    private final ArrayBlockingQueue<ByteBuffer> free;
    private final AtomicInteger unallocated;

    /** At most {@code buffers} direct buffers of {@code size} bytes each, allocated on first need. */
    public BufferPool(int buffers, int size) {
        this.size = size;
        free = new ArrayBlockingQueue<>(buffers);
        unallocated = new AtomicInteger(buffers);
    }

    /** A buffer with position 0 and limit {@code length}; give it back when done. */
    public ByteBuffer take(int length) {
        if (length > size) {
            return ByteBuffer.allocate(length);
        }
        ByteBuffer b = free.poll();
        if (b == null) {
            if (unallocated.getAndUpdate(n -> Math.max(0, n - 1)) == 0) {
                return ByteBuffer.allocate(length);
            }
            b = ByteBuffer.allocateDirect(size);
        }
        return b.clear().limit(length);
    }

    /** Takes back a buffer {@link #take} gave; the caller must not use it any more. */
    public void give(ByteBuffer b) {
        if (b.isDirect()) {
            free.offer(b); // always fits: no more direct buffers exist than the queue holds
        }
    }
}
