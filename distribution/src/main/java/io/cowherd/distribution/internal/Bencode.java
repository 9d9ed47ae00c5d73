package io.cowherd.distribution.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A strict bencode reader and writer (BEP 3) for untrusted metainfo: bounded nesting, canonical
 * integers, byte-string lengths checked against the input, and the exact byte span of every
 * value kept (the info hash is the SHA-1 of the info dictionary's bytes as they were sent).
 */
public final class Bencode {
    private static final int MAX_DEPTH = 64;

    private Bencode() {
    }

    /** A decoded value with the span of input bytes it came from. */
    public record Value(Object value, int start, int end) {
        public byte[] bytes() {
            return (byte[]) value;
        }

        public String string() {
            return new String(bytes(), StandardCharsets.UTF_8);
        }

        public long number() {
            return (Long) value;
        }

        @SuppressWarnings("unchecked")
        public List<Value> list() {
            return (List<Value>) value;
        }

        @SuppressWarnings("unchecked")
        public Map<String, Value> dict() {
            return (Map<String, Value>) value;
        }

        public boolean isBytes() {
            return value instanceof byte[];
        }

        public boolean isNumber() {
            return value instanceof Long;
        }

        public boolean isList() {
            return value instanceof List;
        }

        public boolean isDict() {
            return value instanceof Map;
        }
    }

    /** Thrown for malformed input. */
    public static final class BencodeException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        BencodeException(String message, int at) {
            super(message + " at byte " + at);
        }
    }

    public static Value decode(byte[] in) {
        int[] pos = {0};
        Value v = value(in, pos, 0);
        if (pos[0] != in.length) {
            throw new BencodeException("trailing bytes after the metainfo", pos[0]);
        }
        return v;
    }

    private static Value value(byte[] in, int[] pos, int depth) {
        if (depth > MAX_DEPTH) {
            throw new BencodeException("nesting deeper than " + MAX_DEPTH, pos[0]);
        }
        int start = pos[0];
        if (start >= in.length) {
            throw new BencodeException("unexpected end", start);
        }
        byte b = in[start];
        if (b == 'i') {
            pos[0]++;
            long n = number(in, pos, 'e');
            return new Value(n, start, pos[0]);
        }
        if (b == 'l') {
            pos[0]++;
            List<Value> list = new ArrayList<>();
            while (peek(in, pos) != 'e') {
                list.add(value(in, pos, depth + 1));
            }
            pos[0]++;
            return new Value(list, start, pos[0]);
        }
        if (b == 'd') {
            pos[0]++;
            Map<String, Value> map = new TreeMap<>();
            while (peek(in, pos) != 'e') {
                Value k = value(in, pos, depth + 1);
                if (!k.isBytes()) {
                    throw new BencodeException("dictionary key is not a byte string", k.start);
                }
                Value v = value(in, pos, depth + 1);
                if (map.put(k.string(), v) != null) {
                    throw new BencodeException("duplicate dictionary key '" + k.string() + "'", k.start);
                }
            }
            pos[0]++;
            return new Value(map, start, pos[0]);
        }
        if (b >= '0' && b <= '9') {
            long len = number(in, pos, ':');
            if (len < 0 || len > in.length - pos[0]) {
                throw new BencodeException("byte string length " + len + " runs past the end", start);
            }
            byte[] s = java.util.Arrays.copyOfRange(in, pos[0], pos[0] + (int) len);
            pos[0] += (int) len;
            return new Value(s, start, pos[0]);
        }
        throw new BencodeException("unexpected byte 0x" + Integer.toHexString(b & 0xff), start);
    }

    private static byte peek(byte[] in, int[] pos) {
        if (pos[0] >= in.length) {
            throw new BencodeException("unexpected end", pos[0]);
        }
        return in[pos[0]];
    }

    private static long number(byte[] in, int[] pos, char end) {
        int start = pos[0];
        while (pos[0] < in.length && in[pos[0]] != end) {
            pos[0]++;
        }
        if (pos[0] >= in.length || pos[0] == start || pos[0] - start > 19) {
            throw new BencodeException("bad number", start);
        }
        String s = new String(in, start, pos[0] - start, StandardCharsets.US_ASCII);
        pos[0]++;
        if (!s.matches("-?[0-9]+") || (s.length() > 1 && s.startsWith("0")) || s.startsWith("-0")) {
            throw new BencodeException("non-canonical number '" + s + "'", start);
        }
        return Long.parseLong(s);
    }

    /** Encodes Long, String, byte[], List and Map (String or raw byte[] keys, sorted as bencode requires). */
    public static byte[] encode(Object o) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        write(out, o);
        return out.toByteArray();
    }

    private static void write(ByteArrayOutputStream out, Object o) {
        if (o instanceof Long || o instanceof Integer) {
            out.writeBytes(("i" + o + "e").getBytes(StandardCharsets.US_ASCII));
        } else if (o instanceof String s) {
            write(out, s.getBytes(StandardCharsets.UTF_8));
        } else if (o instanceof byte[] b) {
            out.writeBytes((b.length + ":").getBytes(StandardCharsets.US_ASCII));
            out.writeBytes(b);
        } else if (o instanceof List<?> l) {
            out.write('l');
            l.forEach(x -> write(out, x));
            out.write('e');
        } else if (o instanceof Map<?, ?> m) {
            out.write('d');
            TreeMap<byte[], Object> sorted = new TreeMap<>(java.util.Arrays::compareUnsigned);
            m.forEach((k, v) -> sorted.put(k instanceof byte[] raw ? raw : ((String) k).getBytes(StandardCharsets.UTF_8), v));
            sorted.forEach((k, v) -> {
                write(out, k);
                write(out, v);
            });
            out.write('e');
        } else {
            throw new IllegalArgumentException("cannot bencode " + o);
        }
    }
}
