package io.cowherd.distribution.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.distribution.nbd.RawNbdClient.SimpleReply;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sources that block and sources that fail, as a master still downloading will. */
class NbdServerSourceTest {
    private static final int SIZE = 1 << 20;
    private static final long SLOW_FROM = SIZE / 2;

    @TempDir
    Path dir;

    /** Bytes i -> (byte) i; reads reaching SLOW_FROM wait for the latch; reads at FAIL_AT throw. */
    static final class GatedSource implements ExportSource {
        final CountDownLatch gate = new CountDownLatch(1);
        static final long FAIL_AT = 4096;

        @Override
        public long size() {
            return SIZE;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            if (offset == FAIL_AT) {
                throw new IOException("piece 0 not verified within 0 s");
            }
            if (offset + dst.remaining() > SLOW_FROM) {
                try {
                    if (!gate.await(30, TimeUnit.SECONDS)) {
                        throw new IOException("gate never opened");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
            for (long p = offset; dst.hasRemaining(); p++) {
                dst.put((byte) p);
            }
        }
    }

    private static byte[] expected(long offset, int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (offset + i);
        }
        return b;
    }

    @Test
    void aBlockedReadDelaysOnlyItsOwnReply() throws Exception {
        GatedSource source = new GatedSource();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (NbdServer server = NbdServer.start(dir.resolve("nbd.sock"), List.of(new NbdExport("slow", "", source)));
                RawNbdClient a = new RawNbdClient(server.socket()).handshake();
                RawNbdClient b = new RawNbdClient(server.socket()).handshake()) {
            a.go("slow");
            b.go("slow");
            a.request(0, 0, 1, SLOW_FROM, 4096); // waits for the gate
            a.request(0, 0, 2, 0, 4096); // same connection, ready at once
            assertEquals(new SimpleReply(0, 2), a.reply(), "the ready read is answered first");
            assertArrayEquals(expected(0, 4096), a.read(4096).array());
            b.request(0, 0, 3, 8192, 4096); // another client is served meanwhile
            assertEquals(new SimpleReply(0, 3), b.reply());
            assertArrayEquals(expected(8192, 4096), b.read(4096).array());
            Future<SimpleReply> blocked = pool.submit(a::reply);
            try {
                blocked.get(300, TimeUnit.MILLISECONDS);
                throw new AssertionError("the blocked read was answered before its bytes were there");
            } catch (TimeoutException expectedWait) {
                // still waiting, as it should
            }
            source.gate.countDown();
            assertEquals(new SimpleReply(0, 1), blocked.get(10, TimeUnit.SECONDS));
            assertArrayEquals(expected(SLOW_FROM, 4096), a.read(4096).array());
        } finally {
            source.gate.countDown();
            pool.shutdownNow();
        }
    }

    @Test
    void aFailingSourceGivesEioAndTheConnectionGoesOn() throws Exception {
        GatedSource source = new GatedSource();
        source.gate.countDown();
        try (NbdServer server = NbdServer.start(dir.resolve("nbd.sock"), List.of(new NbdExport("flaky", "", source)));
                RawNbdClient c = new RawNbdClient(server.socket()).handshake()) {
            c.go("flaky");
            c.request(0, 0, 1, GatedSource.FAIL_AT, 4096);
            assertEquals(new SimpleReply(5, 1), c.reply()); // NBD_EIO, no data
            c.request(0, 0, 2, 0, 4096);
            assertEquals(new SimpleReply(0, 2), c.reply());
            assertArrayEquals(expected(0, 4096), c.read(4096).array());
        }
    }

    @Test
    void disconnectWaitsForTheReadsUnderWay() throws Exception {
        GatedSource source = new GatedSource();
        try (NbdServer server = NbdServer.start(dir.resolve("nbd.sock"), List.of(new NbdExport("slow", "", source)));
                RawNbdClient c = new RawNbdClient(server.socket()).handshake()) {
            c.go("slow");
            c.request(0, 0, 1, SLOW_FROM, 4096);
            c.request(0, 2, 2, 0, 0); // NBD_CMD_DISC
            assertFalse(c.closedByServer(java.time.Duration.ofMillis(300)), "closed before the read was answered");
            source.gate.countDown();
            assertEquals(new SimpleReply(0, 1), c.reply());
            assertArrayEquals(expected(SLOW_FROM, 4096), c.read(4096).array());
            assertTrue(c.closedByServer(java.time.Duration.ofSeconds(5)));
        }
    }

    @Test
    void aStaleSocketFileIsReplaced() throws Exception {
        Path socket = dir.resolve("stale.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(socket));
        }
        assertTrue(Files.exists(socket), "closing a Unix server socket leaves its file");
        GatedSource source = new GatedSource();
        source.gate.countDown();
        try (NbdServer server = NbdServer.start(socket, List.of(new NbdExport("x", "", source)));
                RawNbdClient c = new RawNbdClient(server.socket()).handshake()) {
            assertEquals(SIZE, c.go("x"));
        }
        assertFalse(Files.exists(socket), "close removes the socket file");
    }
}
