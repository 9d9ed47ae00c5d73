package io.cowherd.distribution.torrent.tracker;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The peers of one torrent on the {@link EmbeddedTracker}, and the answer to an announce: the
 * peers nearest to the one asking, as Kraken's and Dragonfly's trackers answer. Nearest is the
 * longest common address prefix (the same /24 before the same /16 before anyone), a proxy for
 * the same rack or site, so most of a host's traffic stays on its own switch; equally near peers
 * come in random order, so load spreads; never the requester itself, and only peers heard from
 * within {@link #FRESH_NANOS}. Without locality every fresh peer is equally near: a random few,
 * as a plain tracker answers (for comparison, e.g. the two-rack swarm benchmark).
 */
final class TrackedSwarm {
    /** Peers per answer unless the client asks for fewer (ttorrent's tracker gave 30 too). */
    static final int ANSWER_PEERS = 30;
    /** A peer not heard from for this long is left out of answers, then forgotten. */
    static final long FRESH_NANOS = 30_000_000_000L;

    /** One peer as it last announced. */
    record Peer(byte[] peerId, byte[] ip, int port, boolean seed, long seenNanos) {
    }

    private final Map<String, Peer> peers = new ConcurrentHashMap<>();
    private final boolean locality;

    TrackedSwarm(boolean locality) {
        this.locality = locality;
    }

    /** Records an announce ({@code stopped}: the peer leaves). */
    void announce(byte[] peerId, byte[] ip, int port, boolean seed, boolean stopped, long now) {
        String key = key(peerId);
        if (stopped) {
            peers.remove(key);
        } else {
            peers.put(key, new Peer(peerId, ip, port, seed, now));
        }
    }

    /** Forgets peers not heard from for twice {@link #FRESH_NANOS}. */
    void expire(long now) {
        peers.values().removeIf(p -> now - p.seenNanos() > 2 * FRESH_NANOS);
    }

    /** Fresh seeds and fresh other peers: {@code [complete, incomplete]}. */
    long[] counts(long now) {
        long seeds = 0;
        long others = 0;
        for (Peer p : peers.values()) {
            if (now - p.seenNanos() <= FRESH_NANOS) {
                if (p.seed()) {
                    seeds++;
                } else {
                    others++;
                }
            }
        }
        return new long[] {seeds, others};
    }

    /**
     * Up to {@code want} fresh peers other than {@code requesterId}, nearest to {@code from} first,
     * in one pass: each peer goes into a bucket by prefix length, the answer takes buckets from the
     * longest prefix down, at random within the last one it takes from.
     */
    List<Peer> nearest(byte[] requesterId, byte[] from, int want, long now) {
        List<List<Peer>> byPrefix = new ArrayList<>(Collections.nCopies(from.length * 8 + 1, null));
        for (Peer p : peers.values()) {
            if (now - p.seenNanos() <= FRESH_NANOS && !Arrays.equals(p.peerId(), requesterId)) {
                int bits = locality ? commonPrefixBits(from, p.ip()) : 0;
                List<Peer> bucket = byPrefix.get(bits);
                if (bucket == null) {
                    bucket = new ArrayList<>();
                    byPrefix.set(bits, bucket);
                }
                bucket.add(p);
            }
        }
        List<Peer> answer = new ArrayList<>(want);
        for (int bits = byPrefix.size() - 1; bits >= 0 && answer.size() < want; bits--) {
            List<Peer> bucket = byPrefix.get(bits);
            if (bucket != null) {
                answer.addAll(randomFew(bucket, Math.min(bucket.size(), want - answer.size())));
            }
        }
        return answer;
    }

    /**
     * {@code k} of {@code bucket} chosen at random, by a Fisher-Yates shuffle of the first {@code k}
     * places only: a bucket can hold nearly every peer of a fleet, and shuffling it whole on every
     * announce cost O(n).
     */
    private static List<Peer> randomFew(List<Peer> bucket, int k) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < k; i++) {
            Collections.swap(bucket, i, random.nextInt(i, bucket.size()));
        }
        return bucket.subList(0, k);
    }

    /** Leading bits two addresses share; 0 between IPv4 and IPv6. */
    static int commonPrefixBits(byte[] a, byte[] b) {
        if (a.length != b.length) {
            return 0;
        }
        int bits = 0;
        for (int i = 0; i < a.length; i++) {
            int x = (a[i] ^ b[i]) & 0xff;
            if (x != 0) {
                return bits + Integer.numberOfLeadingZeros(x) - 24;
            }
            bits += 8;
        }
        return bits;
    }

    private static String key(byte[] peerId) {
        return new String(peerId, java.nio.charset.StandardCharsets.ISO_8859_1);
    }
}
