package io.cowherd.dmsnapshot;

import io.cowherd.CowIOException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * What a clone's persistent COW store file says about itself when no kernel has it open (after a
 * reboot): the kernel's persistent exception store ({@code drivers/md/dm-snap-persistent.c})
 * begins with {@code struct disk_header { __le32 magic; __le32 valid; __le32 version; __le32
 * chunk_size; }}, magic {@code SNAP_MAGIC} 0x70416e53 ("SnAp" on disk); when the kernel
 * invalidates a snapshot (its store overflowed or failed) {@code persistent_drop_snapshot} sets
 * {@code valid} to 0 and rewrites the header. A new store reads magic 0 until the kernel writes
 * its first header. The metadata areas that follow (one chunk of 16-byte {@code disk_exception}
 * records per {@code chunk/16} data chunks, ended by a record whose {@code new_chunk} is 0) tell
 * how many chunks are in use.
 *
 * @param state what the header says
 * @param usedChunks chunks in use (header, metadata areas, data), as the kernel's status counts them
 * @param chunkSectors the chunk size the header records (0 for a new store)
 */
record CowStore(State state, long usedChunks, int chunkSectors) {
    static final int SNAP_MAGIC = 0x70416e53;

    /** The header's verdict. */
    enum State {
        /** No header yet: the kernel has never used the store. */
        NEW,
        /** A valid snapshot store. */
        VALID,
        /** The kernel invalidated the snapshot: its writes are lost. */
        INVALID,
        /** Not a snapshot store (wrong magic). */
        CORRUPT
    }

    /** Reads the header (and, for a valid store, the metadata areas) of {@code file}. */
    static CowStore read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            while (h.hasRemaining() && ch.read(h, h.position()) > 0) {
                // read the whole header
            }
            if (h.position() < 16) {
                return new CowStore(State.NEW, 0, 0);
            }
            int magic = h.getInt(0);
            if (magic == 0) {
                return new CowStore(State.NEW, 0, 0);
            }
            if (magic != SNAP_MAGIC) {
                return new CowStore(State.CORRUPT, 0, 0);
            }
            int valid = h.getInt(4);
            int chunkSectors = h.getInt(12);
            if (valid == 0) {
                return new CowStore(State.INVALID, 0, chunkSectors);
            }
            return new CowStore(State.VALID, usedChunks(ch, chunkSectors), chunkSectors);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading the COW store's header", e);
        }
    }

    /** Walks the metadata areas: header, then per area one metadata chunk and its data chunks. */
    private static long usedChunks(FileChannel ch, int chunkSectors) throws IOException {
        if (chunkSectors <= 0 || Integer.bitCount(chunkSectors) != 1) {
            return 0;
        }
        int chunk = chunkSectors * 512;
        int perArea = chunk / 16;
        long size = ch.size();
        ByteBuffer area = ByteBuffer.allocate(chunk).order(ByteOrder.LITTLE_ENDIAN);
        long highest = 0; // the highest chunk in use
        for (long a = 0;; a++) {
            long areaChunk = 1 + a * (perArea + 1L);
            if ((areaChunk + 1) * chunk > size) {
                return Math.max(highest, areaChunk) + 1;
            }
            area.clear();
            while (area.hasRemaining() && ch.read(area, areaChunk * chunk + area.position()) > 0) {
                // read the whole area
            }
            highest = Math.max(highest, areaChunk);
            for (int i = 0; i < perArea; i++) {
                long newChunk = area.getLong(i * 16 + 8);
                if (newChunk == 0) {
                    return highest + 1;
                }
                highest = Math.max(highest, newChunk);
            }
        }
    }
}
