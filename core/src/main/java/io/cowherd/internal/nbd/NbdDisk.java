package io.cowherd.internal.nbd;

import io.cowherd.CowIOException;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.VirtualDisk;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * A read-only {@link VirtualDisk} over one NBD export on a Unix socket: fixed newstyle
 * handshake, {@code NBD_OPT_GO}, simple replies, one request at a time (the qcow2 reader asks
 * for a cluster or a run of them at once). A read of a streaming master may wait until its
 * pieces arrive; the server fails it with {@code NBD_EIO} when they do not, which surfaces here
 * as an {@link IOException} naming the export and the range, never as zeros.
 */
public final class NbdDisk implements VirtualDisk {
    private static final long NBDMAGIC = 0x4e42444d41474943L;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    private static final int FLAG_FIXED_NEWSTYLE = 1;
    private static final int CLIENT_FLAGS = 1 | 1 << 1; // fixed newstyle, no zeroes
    private static final int OPT_GO = 7;
    private static final int REP_ACK = 1;
    private static final int REP_INFO = 3;
    private static final int INFO_EXPORT = 0;
    private static final int REQUEST_MAGIC = 0x25609513;
    private static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    private static final int CMD_READ = 0;
    private static final int CMD_DISC = 2;
    /** Far below every server's maximum payload (ours and qemu-nbd's are 32 MiB). */
    private static final int MAX_READ = 4 << 20;
    private static final int MAX_OPTION_REPLY = 64 << 10;

    private final NbdUri uri;
    private final SocketChannel channel;
    private final long size;
    private final ByteBuffer request = ByteBuffer.allocate(28);
    private final ByteBuffer reply = ByteBuffer.allocate(16);
    private long handle;

    private NbdDisk(NbdUri uri, SocketChannel channel, long size) {
        this.uri = uri;
        this.channel = channel;
        this.size = size;
    }

    /**
     * Connects to the export and negotiates it.
     *
     * @throws NoSuchVolumeException if nobody serves that socket or the server has no such export
     * @throws CowIOException if the handshake fails
     */
    public static NbdDisk open(NbdUri uri) {
        SocketChannel ch;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        } catch (IOException e) {
            throw CowIOException.wrap(uri.socket(), "opening a socket for " + uri, e);
        }
        try {
            ch.connect(UnixDomainSocketAddress.of(uri.socket()));
        } catch (IOException e) {
            close(ch);
            throw new NoSuchVolumeException(uri + ": nobody serves the socket " + uri.socket() + " (" + e.getMessage()
                    + "); is the fetch that streams this master still running?");
        }
        try {
            return new NbdDisk(uri, ch, negotiate(uri, ch));
        } catch (IOException | RuntimeException e) {
            close(ch);
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw CowIOException.wrap(uri.socket(), "negotiating export '" + uri.export() + "'", (IOException) e);
        }
    }

    /** The handshake up to transmission; returns the export's size. */
    private static long negotiate(NbdUri uri, SocketChannel ch) throws IOException {
        ByteBuffer hello = readFully(ch, 18);
        if (hello.getLong() != NBDMAGIC || hello.getLong() != IHAVEOPT || (hello.getShort() & FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException("not a fixed-newstyle NBD server");
        }
        byte[] name = uri.export().getBytes(StandardCharsets.UTF_8);
        ByteBuffer go = ByteBuffer.allocate(4 + 16 + 4 + name.length + 2);
        go.putInt(CLIENT_FLAGS).putLong(IHAVEOPT).putInt(OPT_GO).putInt(4 + name.length + 2).putInt(name.length).put(name)
                .putShort((short) 0).flip();
        writeFully(ch, go);
        long size = -1;
        while (true) {
            ByteBuffer head = readFully(ch, 20);
            long magic = head.getLong();
            int option = head.getInt();
            int type = head.getInt();
            int length = head.getInt();
            if (magic != OPTION_REPLY_MAGIC || option != OPT_GO || length < 0 || length > MAX_OPTION_REPLY) {
                throw new IOException("malformed option reply (magic " + Long.toHexString(magic) + ", option " + option
                        + ", length " + length + ")");
            }
            ByteBuffer data = readFully(ch, length);
            if (type == REP_ACK) {
                break;
            }
            if (type < 0) { // the error replies have the top bit set
                throw new NoSuchVolumeException(uri + ": the server refused export '" + uri.export() + "' (reply 0x"
                        + Integer.toHexString(type) + (length > 0 ? ": " + StandardCharsets.UTF_8.decode(data) : "") + ")");
            }
            if (type == REP_INFO && length >= 12 && data.getShort(0) == INFO_EXPORT) {
                size = data.getLong(2);
            }
        }
        if (size < 0) {
            throw new IOException("the server did not state the export's size");
        }
        return size;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isWritable() {
        return false;
    }

    @Override
    public synchronized int read(ByteBuffer dst, long position) throws IOException {
        if (position >= size) {
            return -1;
        }
        int want = (int) Math.min(Math.min(dst.remaining(), MAX_READ), size - position);
        if (want == 0) {
            return 0;
        }
        long h = ++handle;
        request.clear();
        request.putInt(REQUEST_MAGIC).putShort((short) 0).putShort((short) CMD_READ).putLong(h).putLong(position)
                .putInt(want).flip();
        writeFully(channel, request);
        reply.clear();
        readFully(channel, reply);
        reply.flip();
        int magic = reply.getInt();
        int error = reply.getInt();
        long got = reply.getLong();
        if (magic != SIMPLE_REPLY_MAGIC || got != h) {
            throw new IOException(uri + ": malformed reply to the read of " + want + " bytes at " + position);
        }
        if (error != 0) {
            throw new IOException(uri + ": the server failed the read of " + want + " bytes at " + position + " (NBD error "
                    + error + (error == 5 ? ", EIO: the data did not arrive in time" : "") + ")");
        }
        ByteBuffer into = dst.slice(dst.position(), want);
        readFully(channel, into);
        dst.position(dst.position() + want);
        return want;
    }

    @Override
    public int write(ByteBuffer src, long position) {
        throw new io.cowherd.ReadOnlyVolumeException(uri + " is a read-only export");
    }

    @Override
    public void flush() {
        // nothing is written
    }

    @Override
    public synchronized void close() {
        if (!channel.isOpen()) {
            return;
        }
        try {
            request.clear();
            request.putInt(REQUEST_MAGIC).putShort((short) 0).putShort((short) CMD_DISC).putLong(++handle).putLong(0).putInt(0)
                    .flip();
            writeFully(channel, request);
        } catch (IOException e) {
            // the server went first; closing is all that is left
        }
        close(channel);
    }

    @Override
    public String toString() {
        return uri.toString();
    }

    private static ByteBuffer readFully(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        readFully(ch, b);
        return b.flip();
    }

    private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("the NBD server closed the connection");
            }
        }
    }

    private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static void close(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing more to do
        }
    }
}
