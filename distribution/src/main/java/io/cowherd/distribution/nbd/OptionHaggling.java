package io.cowherd.distribution.nbd;

import static io.cowherd.distribution.nbd.NbdProtocol.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The handshake phase of one connection: the fixed newstyle greeting, then options until the
 * client picks an export ({@code NBD_OPT_GO} or {@code NBD_OPT_EXPORT_NAME}), aborts, or leaves.
 */
final class OptionHaggling {
    private static final Logger LOG = LoggerFactory.getLogger(OptionHaggling.class);
    /** Option data we read at most: names are up to 4096 bytes; more is a client to drop. */
    private static final int MAX_OPTION_DATA = 2 * NbdExport.MAX_NAME_BYTES + 1024;
    /** Options one connection may send: a client looping on options is refused service. */
    private static final int MAX_OPTIONS = 1000;

    private final Wire wire;
    private final Map<String, NbdExport> exports;
    private final int maxPayload;
    private final String client;
    private boolean structuredReplies;

    OptionHaggling(Wire wire, Map<String, NbdExport> exports, int maxPayload, String client) {
        this.wire = wire;
        this.exports = exports;
        this.maxPayload = maxPayload;
        this.client = client;
    }

    /**
     * Runs the handshake.
     *
     * @return the export chosen, or null if the client aborted
     * @throws NbdProtocolException if the client broke the protocol: the connection is to be dropped
     */
    NbdExport negotiate() throws IOException {
        ByteBuffer greeting = ByteBuffer.allocate(18).putLong(NBDMAGIC).putLong(IHAVEOPT)
                .putShort((short) (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)).flip();
        wire.write(greeting);
        int clientFlags = wire.read(4).getInt();
        if ((clientFlags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) != 0) {
            throw new NbdProtocolException("client " + client + " sent unknown client flags 0x"
                    + Integer.toHexString(clientFlags));
        }
        boolean noZeroes = (clientFlags & FLAG_C_NO_ZEROES) != 0;
        for (int count = 0; count < MAX_OPTIONS; count++) {
            ByteBuffer h = wire.read(16);
            long magic = h.getLong();
            int option = h.getInt();
            long length = Integer.toUnsignedLong(h.getInt());
            if (magic != IHAVEOPT) {
                throw new NbdProtocolException("client " + client + " sent option magic 0x" + Long.toHexString(magic)
                        + " instead of IHAVEOPT");
            }
            if (length > MAX_OPTION_DATA) {
                // Reading it would let a client make us read gigabytes; proto.md allows the hard disconnect.
                throw new NbdProtocolException("client " + client + " sent option " + option + " with " + length
                        + " bytes of data (at most " + MAX_OPTION_DATA + " taken)");
            }
            ByteBuffer data = ByteBuffer.allocate((int) length);
            wire.readFully(data);
            data.flip();
            switch (option) {
                case OPT_EXPORT_NAME -> {
                    String name = utf8(data);
                    NbdExport export = name == null ? null : exports.get(name);
                    if (export == null) {
                        // No way to report an error after NBD_OPT_EXPORT_NAME: the spec says to close.
                        throw new NbdProtocolException("client " + client + " asked (NBD_OPT_EXPORT_NAME) for export '"
                                + name + "', which is not served");
                    }
                    ByteBuffer reply = ByteBuffer.allocate(noZeroes ? 10 : 134)
                            .putLong(export.source().size()).putShort((short) EXPORT_FLAGS);
                    wire.write(reply.position(reply.capacity()).flip());
                    return export;
                }
                case OPT_ABORT -> {
                    reply(option, REP_ACK, ByteBuffer.allocate(0));
                    return null;
                }
                case OPT_LIST -> list(data);
                case OPT_STRUCTURED_REPLY -> {
                    if (data.hasRemaining()) {
                        error(option, REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
                    } else {
                        structuredReplies = true;
                        reply(option, REP_ACK, ByteBuffer.allocate(0));
                    }
                }
                case OPT_INFO, OPT_GO -> {
                    NbdExport export = info(option, data);
                    if (export != null && option == OPT_GO) {
                        return export;
                    }
                }
                default -> error(option, REP_ERR_UNSUP, "option " + option + " is not supported by this server");
            }
        }
        throw new NbdProtocolException("client " + client + " sent " + MAX_OPTIONS + " options without choosing an export");
    }

    /** @return whether the client negotiated structured replies (read replies must then be structured) */
    boolean structuredReplies() {
        return structuredReplies;
    }

    private void list(ByteBuffer data) throws IOException {
        if (data.hasRemaining()) {
            error(OPT_LIST, REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
            return;
        }
        for (NbdExport e : exports.values()) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            byte[] description = e.description().getBytes(StandardCharsets.UTF_8);
            reply(OPT_LIST, REP_SERVER, ByteBuffer.allocate(4 + name.length + description.length)
                    .putInt(name.length).put(name).put(description).flip());
        }
        reply(OPT_LIST, REP_ACK, ByteBuffer.allocate(0));
    }

    /** NBD_OPT_INFO and NBD_OPT_GO; returns the export if the reply was a success. */
    private NbdExport info(int option, ByteBuffer data) throws IOException {
        if (data.remaining() < 6) {
            error(option, REP_ERR_INVALID, "option data too short: " + data.remaining() + " bytes");
            return null;
        }
        long nameLength = Integer.toUnsignedLong(data.getInt());
        if (nameLength > data.remaining() - 2) {
            error(option, REP_ERR_INVALID, "name length " + nameLength + " exceeds the option's data");
            return null;
        }
        ByteBuffer nameBytes = data.slice(data.position(), (int) nameLength);
        data.position(data.position() + (int) nameLength);
        int requests = Short.toUnsignedInt(data.getShort());
        if (data.remaining() != 2 * requests) {
            error(option, REP_ERR_INVALID, requests + " information requests announced, "
                    + data.remaining() + " bytes of them sent");
            return null;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < requests; i++) {
            int type = Short.toUnsignedInt(data.getShort());
            wantName |= type == INFO_NAME;
            wantDescription |= type == INFO_DESCRIPTION;
        }
        String name = utf8(nameBytes);
        if (name == null) {
            error(option, REP_ERR_INVALID, "export name is not UTF-8");
            return null;
        }
        NbdExport export = exports.get(name);
        if (export == null) {
            error(option, REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return null;
        }
        reply(option, REP_INFO, ByteBuffer.allocate(12).putShort((short) INFO_EXPORT)
                .putLong(export.source().size()).putShort((short) EXPORT_FLAGS).flip());
        // Sent unasked too: our constraints are the defaults, so a client ignoring it is still right.
        reply(option, REP_INFO, ByteBuffer.allocate(14).putShort((short) INFO_BLOCK_SIZE)
                .putInt(MIN_BLOCK).putInt(PREFERRED_BLOCK).putInt(maxPayload).flip());
        if (wantName) {
            byte[] n = export.name().getBytes(StandardCharsets.UTF_8);
            reply(option, REP_INFO, ByteBuffer.allocate(2 + n.length).putShort((short) INFO_NAME).put(n).flip());
        }
        if (wantDescription && !export.description().isEmpty()) {
            byte[] d = export.description().getBytes(StandardCharsets.UTF_8);
            reply(option, REP_INFO, ByteBuffer.allocate(2 + d.length).putShort((short) INFO_DESCRIPTION).put(d).flip());
        }
        reply(option, REP_ACK, ByteBuffer.allocate(0));
        return export;
    }

    private void error(int option, int type, String message) throws IOException {
        LOG.debug("client {}: option {} refused: {}", client, option, message);
        reply(option, type, ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)));
    }

    private void reply(int option, int type, ByteBuffer data) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(20).putLong(OPTION_REPLY_MAGIC).putInt(option).putInt(type)
                .putInt(data.remaining()).flip();
        wire.write(h, data);
    }

    private static String utf8(ByteBuffer b) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(b).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
