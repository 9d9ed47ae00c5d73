package io.cowherd.distribution.torrent.origin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.distribution.torrent.OpenResources;
import io.cowherd.distribution.torrent.SwarmFixture;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP origin: byte ranges as web seeds ask for them, nothing outside its directory. */
class HttpOriginTest {
    @TempDir
    Path tmp;

    @RegisterExtension
    final OpenResources open = new OpenResources();

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<byte[]> get(URI u, String range) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(u);
        if (range != null) {
            b.header("Range", range);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void servesWholeFilesAndSingleRanges() throws Exception {
        Path data = SwarmFixture.randomFile(tmp.resolve("root/dir/disk.raw"), 3L << 20, 9);
        byte[] all = Files.readAllBytes(data);
        HttpOrigin o = open.keep(HttpOrigin.serve(tmp.resolve("root"), new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
        URI u = o.url().resolve("dir/disk.raw");
        HttpResponse<byte[]> whole = get(u, null);
        assertEquals(200, whole.statusCode());
        assertArrayEquals(all, whole.body());
        HttpResponse<byte[]> mid = get(u, "bytes=1000-1999999");
        assertEquals(206, mid.statusCode());
        assertEquals("bytes 1000-1999999/" + all.length, mid.headers().firstValue("Content-Range").orElseThrow());
        assertArrayEquals(Arrays.copyOfRange(all, 1000, 2_000_000), mid.body());
        assertArrayEquals(Arrays.copyOfRange(all, all.length - 10, all.length), get(u, "bytes=-10").body());
        assertArrayEquals(Arrays.copyOfRange(all, all.length - 5, all.length), get(u, "bytes=" + (all.length - 5) + "-").body());
        assertEquals(416, get(u, "bytes=" + all.length + "-").statusCode());
        assertEquals(416, get(u, "bytes=0-1,5-6").statusCode());
    }

    @Test
    void refusesWhatLiesOutsideItsDirectory() throws Exception {
        Files.createDirectories(tmp.resolve("root"));
        Files.writeString(tmp.resolve("secret"), "secret");
        Files.createSymbolicLink(tmp.resolve("root/link"), tmp.resolve("secret"));
        HttpOrigin o = open.keep(HttpOrigin.serve(tmp.resolve("root"), new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
        assertEquals(404, get(o.url().resolve("link"), null).statusCode(), "a symbolic link is not followed");
        assertEquals(404, get(o.url(), null).statusCode(), "no listing");
        assertEquals(404, get(o.url().resolve("nothing"), null).statusCode());
        // a raw request: HttpClient would normalise the dots away
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), o.url().getPort())) {
            OutputStream out = s.getOutputStream();
            out.write("GET /../secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String reply = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            assertTrue(reply.startsWith("HTTP/1.1 404"), reply);
            assertTrue(!reply.contains("secret"), reply);
        }
    }
}
