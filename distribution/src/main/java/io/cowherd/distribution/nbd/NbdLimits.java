package io.cowherd.distribution.nbd;

/**
 * What one server lets its clients take.
 *
 * @param maxClients connections served at once; further ones are closed at accept
 * @param maxPayload largest read one request may ask for; larger ones get {@code NBD_EINVAL}, as
 *        proto.md asks of requests over the advertised maximum payload (advertised in
 *        {@code NBD_INFO_BLOCK_SIZE})
 * @param inFlightBytesPerClient read bytes one connection may have under way at once (its buffers);
 *        further requests wait to be read off the socket until earlier replies are sent
 */
public record NbdLimits(int maxClients, int maxPayload, long inFlightBytesPerClient) {
    /** 32 MiB: the payload every client may assume a server takes (proto.md, "Size constraints"). */
    public static final int DEFAULT_MAX_PAYLOAD = 32 << 20;

    /** Checks the bounds. */
    public NbdLimits {
        if (maxClients < 1) {
            throw new IllegalArgumentException("maxClients must be at least 1: " + maxClients);
        }
        if (maxPayload < NbdProtocol.PREFERRED_BLOCK) {
            throw new IllegalArgumentException("maxPayload must be at least " + NbdProtocol.PREFERRED_BLOCK + ": "
                    + maxPayload);
        }
        if (inFlightBytesPerClient < maxPayload) {
            throw new IllegalArgumentException("inFlightBytesPerClient (" + inFlightBytesPerClient
                    + ") must hold at least one maximal read (" + maxPayload + ")");
        }
    }

    /** @return 16 clients, 32 MiB reads, 64 MiB under way per client */
    public static NbdLimits defaults() {
        return new NbdLimits(16, DEFAULT_MAX_PAYLOAD, 2L * DEFAULT_MAX_PAYLOAD);
    }
}
