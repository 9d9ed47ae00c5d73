package io.cowherd.distribution.torrent.tracker;

import io.cowherd.distribution.internal.Locality;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The peers of one torrent on the {@link EmbeddedTracker}, and the answer to an announce. With
 * locality the answer is rack-aware: every peer in the asker's rack ({@link Locality#sameRack}: the
 * same /24, or /64 for IPv6), longest common prefix first; and only if the asker is one of its
 * rack's {@link #GATEWAYS} gateways, {@link #FAR_PEERS} gateways of other racks. So a host's traffic
 * stays on its own switch, and a few connections join the racks. Without locality every fresh peer
 * is equally near: a random few, as a plain tracker answers (for comparison, e.g. the two-rack swarm
 * benchmark). Never the requester itself, and only peers heard from within {@link #FRESH_NANOS}.
 */
final class TrackedSwarm {
    /** Peers per answer unless the client asks for fewer (ttorrent's tracker gave 30 too). */
    static final int ANSWER_PEERS = 30;
    /** A peer not heard from for this long is left out of answers, then forgotten. */
    static final long FRESH_NANOS = 30_000_000_000L;
    /**
     * Gateways of other racks in a gateway's answer. A fetch connects to every peer it is
     * told of and asks each for pieces, so each connection between racks carries its share of the
     * traffic: with the 200 nearest (everyone, below 200 hosts), 24 hosts in two racks moved 10
     * copies of the data between them; with two far peers for every host, 6.5-7.5. Two, not one, so
     * that a gateway still reaches another rack when one of them leaves or stalls.
     */
    static final int FAR_PEERS = 2;
    /**
     * Hosts per rack told of far peers: the rack's first fresh peers in {@link #GATEWAY_ORDER}
     * (fetches before origin seeds, the earliest first), the same ones announce after announce (one
     * that goes quiet is replaced within {@link #FRESH_NANOS}); gateways meet gateways only; a host
     * alone in its /24 is its rack's gateway. The number trades the bytes that cross between racks
     * against time, as a gateway's far peers give it only their fair share of their upload: 24 hosts
     * in two racks at 20 Mbit/s (docs/distribution.md) took 324 s with one gateway per rack and 1.0
     * copies crossed, 109 s and 1.8 with two, 95 s and 2.1 with three, 90 s and 3.3 with five;
     * without locality 85 s and 10.4.
     */
    static final int GATEWAYS = 3;

    /**
     * One peer as it last announced; {@code idHash}: its id hashed with the swarm's salt, for
     * {@link #farFew}; {@code firstSeenNanos}: its first announce; {@code bornSeed}: it was a seed
     * then (an origin, not a fetch that finished).
     */
    record Peer(byte[] peerId, byte[] ip, int port, boolean seed, long seenNanos, long idHash, long firstSeenNanos,
            boolean bornSeed) {
    }

    /**
     * The order in which a rack's peers are its gateways: fetches before origin seeds (an initial
     * seed sends new pieces to its own rack first, so another rack would get little from it; a rack
     * of seeds only still has one), then the earliest first, then by id hash. Earliest, not by hash
     * alone: hosts start one after another, and each that came to rank lowest so far would have been
     * a gateway for a while and kept its far connections (about three per rack of twelve; 24 hosts
     * moved 2.4 copies across with one gateway per rack). A fetch keeps its place when it finishes:
     * a new gateway would draw across all it still lacks.
     */
    static final java.util.Comparator<Peer> GATEWAY_ORDER = java.util.Comparator.comparing(Peer::bornSeed)
            .thenComparingLong(Peer::firstSeenNanos).thenComparing(Peer::idHash, Long::compareUnsigned);

    private final Map<String, Peer> peers = new ConcurrentHashMap<>();
    private final boolean locality;
    /** Seeds the far peers' ranks: the same asker gets the same far peers, other swarms others. */
    private final long salt = ThreadLocalRandom.current().nextLong();

    TrackedSwarm(boolean locality) {
        this.locality = locality;
    }

    /** Records an announce ({@code stopped}: the peer leaves). */
    void announce(byte[] peerId, byte[] ip, int port, boolean seed, boolean stopped, long now) {
        String key = key(peerId);
        if (stopped) {
            peers.remove(key);
        } else {
            Peer was = peers.get(key);
            peers.put(key, new Peer(peerId, ip, port, seed, now, hash(salt, peerId), was == null ? now : was.firstSeenNanos(),
                    was == null ? seed : was.bornSeed()));
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
     * Up to {@code want} fresh peers other than {@code requesterId} for an asker at {@code from}, in
     * one pass. With locality: the peers of the asker's rack, by buckets of prefix length from the
     * longest down, at random within the last one it takes from, and, if the asker is a gateway (fewer
     * than {@link #GATEWAYS} of its rack's peers hash lower), up to {@link #FAR_PEERS} (at most half
     * of {@code want}) of the others, chosen by {@link #farFew}. Without: {@code want} at random.
     */
    List<Peer> nearest(byte[] requesterId, byte[] from, int want, long now) {
        int rackBits = Locality.rackBits(from.length);
        List<List<Peer>> byPrefix = new ArrayList<>(Collections.nCopies(from.length * 8 + 1, null));
        int near = 0;
        long askerHash = hash(salt, requesterId);
        // the asker announced just before it asks; one that left (stopped) is no gateway
        Peer asker = peers.get(key(requesterId));
        int lowerInRack = 0;
        List<Peer> far = new ArrayList<>();
        for (Peer p : peers.values()) {
            if (now - p.seenNanos() <= FRESH_NANOS && !Arrays.equals(p.peerId(), requesterId)) {
                int bits = locality ? Locality.commonPrefixBits(from, p.ip()) : 0;
                if (locality && (bits < rackBits || p.ip().length != from.length)) {
                    far.add(p);
                    continue;
                }
                List<Peer> bucket = byPrefix.get(bits);
                if (bucket == null) {
                    bucket = new ArrayList<>();
                    byPrefix.set(bits, bucket);
                }
                bucket.add(p);
                near++;
                if (asker == null || GATEWAY_ORDER.compare(p, asker) < 0) {
                    lowerInRack++;
                }
            }
        }
        // a gateway gets room for the far few even when the rack alone would fill the answer
        int farSlots = lowerInRack >= GATEWAYS ? 0 : Math.min(far.size(), Math.min(FAR_PEERS, Math.max(want / 2, want - near)));
        List<Peer> answer = new ArrayList<>(want);
        for (int bits = byPrefix.size() - 1; bits >= 0 && answer.size() < want - farSlots; bits--) {
            List<Peer> bucket = byPrefix.get(bits);
            if (bucket != null) {
                answer.addAll(randomFew(bucket, Math.min(bucket.size(), want - farSlots - answer.size())));
            }
        }
        answer.addAll(farFew(askerHash, farSlots > 0 ? gateways(far) : List.of(), farSlots));
        return answer;
    }

    /**
     * The gateways among {@code far}: of each rack, the {@link #GATEWAYS} peers of the lowest
     * {@link #GATEWAY_ORDER}, as each of them finds itself. Gateways meet gateways only: each far connection makes
     * its rack-side host draw much of what its rack lacks across the link (its far peer is often the
     * only one holding a piece), so the fewer hosts of a rack have one, the fewer copies cross.
     */
    private static List<Peer> gateways(List<Peer> far) {
        Map<java.nio.ByteBuffer, Peer[]> byRack = new java.util.HashMap<>();
        for (Peer p : far) {
            byte[] rack = Arrays.copyOf(p.ip(), Locality.rackBits(p.ip().length) / 8);
            Peer[] lowest = byRack.computeIfAbsent(java.nio.ByteBuffer.wrap(rack), k -> new Peer[GATEWAYS]);
            for (int i = 0; i < GATEWAYS; i++) {
                if (lowest[i] == null || GATEWAY_ORDER.compare(p, lowest[i]) < 0) {
                    System.arraycopy(lowest, i, lowest, i + 1, GATEWAYS - i - 1);
                    lowest[i] = p;
                    break;
                }
            }
        }
        List<Peer> out = new ArrayList<>();
        for (Peer[] lowest : byRack.values()) {
            for (Peer p : lowest) {
                if (p != null) {
                    out.add(p);
                }
            }
        }
        return out;
    }

    /**
     * The {@code k} of {@code far} with the lowest rank: seeds first (a seed alone in another subnet,
     * such as an initial seed, which never connects out itself, is so always reached), then by a hash
     * of the asker's and the peer's ids, so the same asker gets the same ones announce after announce
     * while they stay (random ones would add up, a few new each announce, to every far peer in a
     * minute). O(n) for small k, a multiplication or two per far peer (ids are hashed on announce).
     */
    private static List<Peer> farFew(long asker, List<Peer> far, int k) {
        if (k <= 0) {
            return List.of();
        }
        Peer[] best = new Peer[k];
        long[] rank = new long[k];
        int n = 0;
        for (Peer p : far) {
            // rotated: A's rank of B is not B's of A, so askers do not just pick each other
            long r = (p.seed() ? 0 : Long.MIN_VALUE) | mix(asker ^ Long.rotateLeft(p.idHash(), 29)) >>> 1;
            if (n < k || Long.compareUnsigned(r, rank[n - 1]) < 0) {
                int i = n < k ? n++ : n - 1;
                for (; i > 0 && Long.compareUnsigned(r, rank[i - 1]) < 0; i--) {
                    best[i] = best[i - 1];
                    rank[i] = rank[i - 1];
                }
                best[i] = p;
                rank[i] = r;
            }
        }
        return Arrays.asList(best).subList(0, n);
    }

    /** FNV-1a of {@code bytes} from {@code seed}. */
    private static long hash(long seed, byte[] bytes) {
        long h = 0xcbf29ce484222325L ^ seed;
        for (byte b : bytes) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return mix(h);
    }

    /** MurmurHash3's 64-bit finalizer: every input bit moves every output bit. */
    private static long mix(long h) {
        h = (h ^ (h >>> 33)) * 0xff51afd7ed558ccdL;
        h = (h ^ (h >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return h ^ (h >>> 33);
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

    private static String key(byte[] peerId) {
        return new String(peerId, java.nio.charset.StandardCharsets.ISO_8859_1);
    }
}
