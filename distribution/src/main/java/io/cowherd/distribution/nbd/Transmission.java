package io.cowherd.distribution.nbd;

import static io.cowherd.distribution.nbd.NbdProtocol.*;

import io.cowherd.distribution.internal.BufferPool;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transmission phase of one connection. Reads are answered with one structured chunk if the
 * client negotiated structured replies (QEMU 7.2's client needs them to read an export whose size
 * is not a multiple of 512), with a simple reply otherwise; every other reply is simple. Requests are read on the
 * connection's thread; reads run on the server's workers, so a read waiting for its source (a
 * piece still downloading) delays only its own reply, and replies may come out of order as
 * proto.md allows. Read buffers under way are bounded per connection.
 */
final class Transmission {
    private static final Logger LOG = LoggerFactory.getLogger(Transmission.class);

    private final Wire wire;
    private final NbdExport export;
    private final int maxPayload;
    private final Executor workers;
    private final String client;
    private final int budget;
    private final Semaphore inFlightBytes;
    private final boolean structured;
    private final BufferPool buffers;

    Transmission(Wire wire, NbdExport export, NbdLimits limits, Executor workers, BufferPool buffers, String client,
            boolean structured) {
        this.structured = structured;
        this.buffers = buffers;
        this.wire = wire;
        this.export = export;
        this.maxPayload = limits.maxPayload();
        this.workers = workers;
        this.client = client;
        this.budget = (int) Math.min(Integer.MAX_VALUE, limits.inFlightBytesPerClient());
        this.inFlightBytes = new Semaphore(budget);
    }

    /** Serves requests until NBD_CMD_DISC (after the reads under way are answered) or the client leaves. */
    void serve() throws IOException, InterruptedException {
        long size = export.source().size();
        while (true) {
            ByteBuffer h = wire.read(28);
            int magic = h.getInt();
            int flags = Short.toUnsignedInt(h.getShort());
            int type = Short.toUnsignedInt(h.getShort());
            long cookie = h.getLong();
            long offset = h.getLong();
            long length = Integer.toUnsignedLong(h.getInt());
            if (magic != REQUEST_MAGIC) {
                throw new NbdProtocolException("client " + client + " on export '" + export.name()
                        + "' sent request magic 0x" + Integer.toHexString(magic));
            }
            switch (type) {
                case CMD_READ -> {
                    if ((flags & ~CMD_FLAG_FUA) != 0) {
                        refuseRead(cookie, EINVAL, "read with flags 0x" + Integer.toHexString(flags), offset, length);
                    } else if (length > maxPayload) {
                        refuseRead(cookie, EINVAL, "read longer than the maximum payload " + maxPayload, offset, length);
                    } else if (Long.compareUnsigned(offset, size) > 0 || length > size - offset) {
                        refuseRead(cookie, EINVAL, "read past the export's end at " + size, offset, length);
                    } else if (length == 0) {
                        wire.write(structured ? chunk(cookie, REPLY_TYPE_NONE, 0) : header(cookie, 0));
                    } else {
                        read(cookie, offset, (int) length);
                    }
                }
                case CMD_WRITE -> {
                    if (length > maxPayload) {
                        // Its payload follows on the stream; reading gigabytes to stay in step is the
                        // denial of service proto.md lets us end with a hard disconnect.
                        throw new NbdProtocolException("client " + client + " sent a write of " + length
                                + " bytes at offset " + offset + " to read-only export '" + export.name() + "'");
                    }
                    wire.skip(length);
                    refuse(cookie, EPERM, "write to a read-only export", offset, length);
                }
                case CMD_TRIM, CMD_WRITE_ZEROES -> refuse(cookie, EPERM, "command " + type + " on a read-only export",
                        offset, length);
                case CMD_FLUSH -> reply(cookie, 0); // Nothing is ever written: nothing to flush.
                case CMD_DISC -> {
                    inFlightBytes.acquire(budget); // the reads under way get their replies first
                    inFlightBytes.release(budget);
                    return;
                }
                default -> refuse(cookie, EINVAL, "unknown command " + type, offset, length);
            }
        }
    }

    private void read(long cookie, long offset, int length) throws InterruptedException {
        inFlightBytes.acquire(length);
        Runnable job = () -> {
            ByteBuffer data = buffers.take(length);
            try {
                String failure = null;
                try {
                    export.source().read(offset, data);
                } catch (IOException | RuntimeException e) {
                    LOG.warn("export '{}': read of {} bytes at offset {} for client {} failed, replying EIO: {}",
                            export.name(), length, offset, client, e.toString());
                    failure = "read of " + length + " bytes at offset " + offset + " failed: " + e.getMessage();
                }
                try {
                    if (failure != null) {
                        sendReadError(cookie, EIO, failure);
                    } else if (structured) {
                        ByteBuffer h = chunk(cookie, REPLY_TYPE_OFFSET_DATA, 8 + length);
                        wire.write(h.limit(28).putLong(20, offset), data.flip());
                    } else {
                        wire.write(header(cookie, 0), data.flip());
                    }
                } catch (IOException e) {
                    // The client left in the middle of the reply: the stream is out of step, drop it.
                    LOG.debug("client {}: reply to read at {} not sent: {}", client, offset, e.toString());
                    wire.close();
                }
            } finally {
                buffers.give(data);
                inFlightBytes.release(length);
            }
        };
        if (!export.source().readMayWait(offset, length)) {
            job.run(); // nothing to wait for: a hand-off would only cost
            return;
        }
        try {
            workers.execute(job);
        } catch (RejectedExecutionException e) {
            inFlightBytes.release(length);
            wire.close(); // the server is closing
        }
    }

    private void refuseRead(long cookie, int error, String why, long offset, long length) throws IOException {
        LOG.debug("client {} on export '{}': {} (offset {}, length {}) refused with error {}", client, export.name(), why,
                Long.toUnsignedString(offset), length, error);
        sendReadError(cookie, error, why);
    }

    /** Read errors go in an error chunk once structured replies are on: a simple reply is then not allowed. */
    private void sendReadError(long cookie, int error, String message) throws IOException {
        if (!structured) {
            wire.write(header(cookie, error));
            return;
        }
        byte[] m = message.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int n = Math.min(m.length, 4096);
        ByteBuffer h = chunk(cookie, REPLY_TYPE_ERROR, 6 + n);
        wire.write(h, ByteBuffer.allocate(6 + n).putInt(error).putShort((short) n).put(m, 0, n).flip());
    }

    /** A structured chunk header with NBD_REPLY_FLAG_DONE, room for 8 more bytes (an offset) behind it. */
    private static ByteBuffer chunk(long cookie, int type, int payloadLength) {
        return ByteBuffer.allocate(28).putInt(STRUCTURED_REPLY_MAGIC).putShort((short) REPLY_FLAG_DONE)
                .putShort((short) type).putLong(cookie).putInt(payloadLength).flip();
    }

    private void refuse(long cookie, int error, String why, long offset, long length) throws IOException {
        LOG.debug("client {} on export '{}': {} (offset {}, length {}) refused with error {}", client, export.name(), why,
                Long.toUnsignedString(offset), length, error);
        reply(cookie, error);
    }

    private void reply(long cookie, int error) throws IOException {
        wire.write(header(cookie, error));
    }

    private static ByteBuffer header(long cookie, int error) {
        return ByteBuffer.allocate(16).putInt(SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie).flip();
    }
}
