package io.cowherd.distribution.torrent;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * A magnet link (BEP 9): {@code magnet:?xt=urn:btih:HASH[&dn=NAME][&tr=TRACKER]...}, the info
 * hash in 40 hex digits or 32 base32 characters. Only what a fetch needs is kept; unknown
 * parameters are ignored, as other clients do.
 *
 * @param text the link as given
 * @param infoHash the 20-byte info hash
 * @param displayName the {@code dn} name, or null
 * @param trackers the {@code tr} announce URLs
 */
public record MagnetLink(String text, byte[] infoHash, String displayName, List<URI> trackers) {

    /** Checks the fields. */
    public MagnetLink {
        infoHash = infoHash.clone();
        trackers = List.copyOf(trackers);
    }

    @Override
    public byte[] infoHash() {
        return infoHash.clone();
    }

    /** The info hash in lower-case hex. */
    public String infoHashHex() {
        return HexFormat.of().formatHex(infoHash);
    }

    /** Whether {@code text} looks like a magnet link (it may still be malformed). */
    public static boolean isMagnet(String text) {
        return text.regionMatches(true, 0, "magnet:", 0, 7);
    }

    /**
     * Parses a magnet link.
     *
     * @throws IllegalArgumentException if it is not a BitTorrent magnet link with one valid info hash
     */
    public static MagnetLink parse(String text) {
        if (!isMagnet(text) || text.length() < 8 || text.charAt(7) != '?') {
            throw new IllegalArgumentException("'" + text + "' is not a magnet link (magnet:?xt=urn:btih:...)");
        }
        byte[] hash = null;
        String name = null;
        List<URI> trackers = new ArrayList<>();
        for (String param : text.substring(8).split("&")) {
            int eq = param.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String key = param.substring(0, eq);
            String value;
            try {
                value = URLDecoder.decode(param.substring(eq + 1), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("magnet link parameter " + key + " is not URL-encoded properly");
            }
            switch (key) {
                case "xt" -> {
                    if (value.regionMatches(true, 0, "urn:btih:", 0, 9)) {
                        if (hash != null) {
                            throw new IllegalArgumentException("the magnet link names more than one info hash");
                        }
                        hash = infoHash(value.substring(9));
                    }
                }
                case "dn" -> name = value;
                case "tr" -> {
                    try {
                        trackers.add(new URI(value));
                    } catch (java.net.URISyntaxException e) {
                        // an unusable tracker is skipped, like other clients do
                    }
                }
                default -> {
                    // x.pe, xl, ws, ...: not needed
                }
            }
        }
        if (hash == null) {
            throw new IllegalArgumentException("the magnet link has no BitTorrent info hash (xt=urn:btih:...)");
        }
        return new MagnetLink(text, hash, name, trackers);
    }

    private static byte[] infoHash(String s) {
        if (s.length() == 40) {
            try {
                return HexFormat.of().parseHex(s.toLowerCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("info hash '" + s + "' is not 40 hex digits");
            }
        }
        if (s.length() == 32) {
            return base32(s.toUpperCase(Locale.ROOT));
        }
        throw new IllegalArgumentException("info hash '" + s + "' is neither 40 hex digits nor 32 base32 characters");
    }

    private static byte[] base32(String s) {
        byte[] out = new byte[20];
        long buffer = 0;
        int bits = 0;
        int n = 0;
        for (char c : s.toCharArray()) {
            int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= '2' && c <= '7' ? c - '2' + 26 : -1;
            if (v < 0) {
                throw new IllegalArgumentException("info hash '" + s + "' is not base32");
            }
            buffer = buffer << 5 | v;
            bits += 5;
            if (bits >= 8) {
                bits -= 8;
                out[n++] = (byte) (buffer >> bits);
            }
        }
        return out;
    }
    /**
     * The torrent this link names, made of the info dictionary peers sent (BEP 9) and this link's
     * trackers, checked as strictly as a {@code .torrent} file and against the link's info hash.
     *
     * @throws io.cowherd.CorruptFileException if the metadata is malformed or hashes to another torrent
     */
    public Metainfo metainfoFrom(byte[] info) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(info.length + 256);
        b.writeBytes("d".getBytes(StandardCharsets.US_ASCII));
        if (!trackers.isEmpty()) {
            bytes(b, "announce");
            bytes(b, trackers.get(0).toString());
        }
        bytes(b, "info");
        b.writeBytes(info);
        b.writeBytes("e".getBytes(StandardCharsets.US_ASCII));
        Path where = Path.of("magnet:" + infoHashHex());
        Metainfo m = Metainfo.parse(b.toByteArray(), where);
        if (!java.util.Arrays.equals(m.infoHash(), infoHash)) {
            throw new io.cowherd.CorruptFileException(where, "info", -1, "the metadata peers sent hashes to " + m.infoHashHex());
        }
        return m;
    }

    private static void bytes(ByteArrayOutputStream b, String s) {
        byte[] v = s.getBytes(StandardCharsets.UTF_8);
        b.writeBytes((v.length + ":").getBytes(StandardCharsets.US_ASCII));
        b.writeBytes(v);
    }
}
