package io.cowherd.distribution.torrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.CorruptFileException;
import io.cowherd.PolicyViolationException;
import io.cowherd.distribution.internal.Bencode;
import io.cowherd.distribution.torrent.ttorrent.TtorrentEngine;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetainfoTest {
    @TempDir
    Path tmp;

    private static byte[] torrent(Object files, String name) {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("name", name);
        info.put("piece length", 16384L);
        info.put("pieces", new byte[20]);
        if (files == null) {
            info.put("length", 10L);
        } else {
            info.put("files", files);
        }
        return Bencode.encode(Map.of("announce", "http://127.0.0.1:1/announce", "info", info));
    }

    private static Object oneFile(String... path) {
        return List.of(Map.of("length", 10L, "path", List.of((Object[]) path)));
    }

    @Test
    void createMatchesAnIndependentHashAndChoosesPieceSizeFromSize() throws Exception {
        Path f = SwarmFixture.randomFile(tmp.resolve("d/a.raw"), 3 * 131072 + 5, 1);
        Metainfo m = Metainfo.create(f, List.of(URI.create("http://127.0.0.1:6969/announce")), 0, "t");
        assertEquals(131072, m.pieceLength());
        assertEquals(4, m.pieceCount());
        byte[] all = Files.readAllBytes(f);
        byte[] first = java.security.MessageDigest.getInstance("SHA-1").digest(java.util.Arrays.copyOf(all, 131072));
        assertEquals(HexFormat.of().formatHex(first), HexFormat.of().formatHex(m.pieceHash(0)));
        Metainfo again = Metainfo.parse(m.encoded(), null);
        assertEquals(m.infoHashHex(), again.infoHashHex());
        assertTrue(m.magnetUri().startsWith("magnet:?xt=urn:btih:" + m.infoHashHex()));
        assertEquals(128 << 10, Metainfo.choosePieceLength(10L << 20));
        assertEquals(128 << 10, Metainfo.choosePieceLength(256L << 20)); // 2048 pieces
        assertEquals(256 << 10, Metainfo.choosePieceLength(257L << 20));
        assertEquals(512 << 10, Metainfo.choosePieceLength(1L << 30));
        assertEquals(8 << 20, Metainfo.choosePieceLength(20L << 30));
        // streaming: about four times as many pieces, within the same bounds
        assertEquals(128 << 10, Metainfo.choosePieceLengthForStreaming(256L << 20));
        assertEquals(128 << 10, Metainfo.choosePieceLengthForStreaming(768L << 20)); // 6144 pieces, not 1536 of 512 KiB
        assertEquals(128 << 10, Metainfo.choosePieceLengthForStreaming(1L << 30)); // 8192
        assertEquals(256 << 10, Metainfo.choosePieceLengthForStreaming((1L << 30) + 1)); // 8193 would be one too many
        assertEquals(8 << 20, Metainfo.choosePieceLengthForStreaming(80L << 30)); // the 8 MiB ceiling: 10240 pieces
        assertEquals(8 << 20, Metainfo.choosePieceLengthForStreaming(40L << 30)); // 5 MiB rounds up to 8: 5120 pieces
    }

    @Test
    void namesThatEscapeAreRefused() {
        assertThrows(PolicyViolationException.class, () -> Metainfo.parse(torrent(oneFile("..", "etc", "passwd"), "b"), null));
        assertThrows(PolicyViolationException.class, () -> Metainfo.parse(torrent(oneFile("/etc/passwd"), "b"), null));
        assertThrows(PolicyViolationException.class, () -> Metainfo.parse(torrent(oneFile("a/../../x"), "b"), null));
        assertThrows(PolicyViolationException.class, () -> Metainfo.parse(torrent(null, ".."), null));
        assertThrows(PolicyViolationException.class, () -> Metainfo.parse(torrent(null, "/abs"), null));
        assertThrows(PolicyViolationException.class, () -> Metainfo.parse(torrent(oneFile("C:evil"), "b"), null));
        assertEquals("b", Metainfo.parse(torrent(oneFile("ok.raw"), "b"), null).name());
    }

    @Test
    void aSymbolicLinkInTheTargetIsNotFollowed() throws IOException {
        Metainfo m = Metainfo.parse(torrent(oneFile("disk.raw"), "b"), null);
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path into = Files.createDirectories(tmp.resolve("into"));
        Files.createSymbolicLink(into.resolve("b"), outside);
        assertThrows(PolicyViolationException.class, () -> m.resolveIn(into));
        assertThrows(PolicyViolationException.class,
                () -> new TtorrentEngine().fetch(m, into, SessionOptions.on(SwarmFixture.host())));
        assertEquals(0, Files.list(outside).count());
    }

    @Test
    void malformedOrOversizedMetainfoIsRefused() throws IOException {
        assertThrows(CorruptFileException.class, () -> Metainfo.parse("d4:infoi1ee".getBytes(), null));
        assertThrows(CorruptFileException.class, () -> Metainfo.parse("garbage".getBytes(), null));
        assertThrows(CorruptFileException.class, () -> Metainfo.parse("d4:info999999999:xe".getBytes(), null));
        byte[] wrongPieces = torrent(null, "b");
        String s = new String(wrongPieces, java.nio.charset.StandardCharsets.ISO_8859_1).replace("i10e", "i99999e");
        assertThrows(CorruptFileException.class, () -> Metainfo.parse(s.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), null));
        Path big = tmp.resolve("big.torrent");
        Files.write(big, new byte[Metainfo.MAX_BYTES + 1]);
        assertThrows(PolicyViolationException.class, () -> Metainfo.read(big));
    }
}
