package io.cowherd.distribution.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A hand-written NBD client for the tests: it sends exactly the bytes a test wants, right or
 * wrong, and reads the server's answers field by field.
 */
final class RawNbdClient implements AutoCloseable {
    // the magic numbers are the server's (NbdProtocol): QEMU's and libnbd's clients check them against the spec
    static final long NBDMAGIC = NbdProtocol.NBDMAGIC;
    static final long IHAVEOPT = NbdProtocol.IHAVEOPT;
    static final long OPTION_REPLY_MAGIC = NbdProtocol.OPTION_REPLY_MAGIC;
    static final int REQUEST_MAGIC = NbdProtocol.REQUEST_MAGIC;
    static final int SIMPLE_REPLY_MAGIC = NbdProtocol.SIMPLE_REPLY_MAGIC;

    /** One option reply. */
    record OptionReply(int option, int type, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    /** One simple reply (data read only when asked for). */
    record SimpleReply(int error, long cookie) {
    }

    final SocketChannel ch;

    RawNbdClient(Path socket) throws IOException {
        ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
    }

    /** Reads the greeting and sends the client flags (fixed newstyle, no zeroes). */
    RawNbdClient handshake() throws IOException {
        ByteBuffer g = read(18);
        if (g.getLong() != NBDMAGIC || g.getLong() != IHAVEOPT) {
            throw new IOException("bad greeting");
        }
        int flags = g.getShort();
        if (flags != 3) {
            throw new IOException("handshake flags " + flags);
        }
        send(ByteBuffer.allocate(4).putInt(3).flip());
        return this;
    }

    void option(int option, byte[] data) throws IOException {
        send(ByteBuffer.allocate(16 + data.length).putLong(IHAVEOPT).putInt(option).putInt(data.length).put(data).flip());
    }

    OptionReply optionReply() throws IOException {
        ByteBuffer h = read(20);
        long magic = h.getLong();
        if (magic != OPTION_REPLY_MAGIC) {
            throw new IOException("option reply magic " + Long.toHexString(magic));
        }
        int option = h.getInt();
        int type = h.getInt();
        int length = h.getInt();
        return new OptionReply(option, type, read(length).array());
    }

    static byte[] goData(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length).putInt(n.length).put(n)
                .putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    /** NBD_OPT_GO to {@code name}; returns the export size. */
    long go(String name) throws IOException {
        option(7, goData(name, 3));
        long size = -1;
        while (true) {
            OptionReply r = optionReply();
            if (r.type() == 1) {
                return size;
            }
            if (r.type() != 3) {
                throw new IOException("NBD_OPT_GO refused: " + r.type() + " " + r.text());
            }
            ByteBuffer d = ByteBuffer.wrap(r.data());
            if (d.getShort() == 0) {
                size = d.getLong();
            }
        }
    }

    void request(int flags, int type, long cookie, long offset, long length) throws IOException {
        send(ByteBuffer.allocate(28).putInt(REQUEST_MAGIC).putShort((short) flags).putShort((short) type)
                .putLong(cookie).putLong(offset).putInt((int) length).flip());
    }

    SimpleReply reply() throws IOException {
        ByteBuffer h = read(16);
        int magic = h.getInt();
        if (magic != SIMPLE_REPLY_MAGIC) {
            throw new IOException("reply magic " + Integer.toHexString(magic));
        }
        return new SimpleReply(h.getInt(), h.getLong());
    }

    void send(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    ByteBuffer read(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("server closed after " + b.position() + " of " + n + " bytes");
            }
        }
        return b.flip();
    }

    /** True if the server closed the connection (read hits end of stream) within the time given. */
    boolean closedByServer(Duration within) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1 << 16);
        long deadline = System.nanoTime() + within.toNanos();
        ch.configureBlocking(false);
        try {
            while (System.nanoTime() < deadline) {
                int n;
                try {
                    n = ch.read(b.clear());
                } catch (IOException reset) {
                    return true;
                }
                if (n < 0) {
                    return true;
                }
                if (n == 0) {
                    sleep();
                }
            }
            return false;
        } finally {
            ch.configureBlocking(true);
        }
    }

    private static void sleep() {
        try {
            TimeUnit.MILLISECONDS.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
