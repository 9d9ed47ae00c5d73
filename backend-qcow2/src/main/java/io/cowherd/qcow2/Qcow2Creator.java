package io.cowherd.qcow2;

import io.cowherd.CowIOException;
import io.cowherd.VolumeExistsException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes new, empty qcow2 v3 images (optionally with a backing file), laid out as QEMU does:
 * header, refcount table, one refcount block, L1 table. Only the few non-zero bytes are
 * written; the rest of the file is a hole. The image is built under a temporary name and
 * renamed into place, so nothing half-made ever carries the final name.
 */
final class Qcow2Creator {
    static final int DEFAULT_CLUSTER_BITS = 16;
    private static final int REFCOUNT_ORDER = 4;

    private Qcow2Creator() {
    }

    static void create(Path target, long virtualSize, String backingFile, String backingFormat) {
        create(target, virtualSize, backingFile, backingFormat, DEFAULT_CLUSTER_BITS);
    }

    static void create(Path target, long virtualSize, String backingFile, String backingFormat, int clusterBits) {
        if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new VolumeExistsException(target + " already exists; not overwriting it");
        }
        int cs = 1 << clusterBits;
        long l1Size = Qcow2Header.l1EntriesFor(virtualSize, clusterBits, cs / 8);
        if (l1Size * 8 > Qcow2Header.MAX_L1_BYTES) {
            throw new IllegalArgumentException("virtual size " + virtualSize + " needs an L1 table above QEMU's 32 MiB limit");
        }
        long l1Clusters = Math.max(1, (l1Size * 8 + cs - 1) / cs);
        long refcountsPerBlock = (long) cs * 8 / (1 << REFCOUNT_ORDER);
        // Size the refcount table to cover a fully allocated image with room for metadata.
        long coveredPerTableCluster = (cs / 8L) * refcountsPerBlock * cs;
        long worstCase = virtualSize + virtualSize / 8 + 64L * cs;
        long tableClusters = Math.max(1, (worstCase + coveredPerTableCluster - 1) / coveredPerTableCluster);

        long tableOffset = cs;
        long blockOffset = tableOffset + tableClusters * cs;
        long l1Offset = blockOffset + cs;
        long usedClusters = l1Offset / cs + l1Clusters;
        if (usedClusters > refcountsPerBlock) {
            throw new IllegalArgumentException("metadata of " + usedClusters + " clusters does not fit one refcount block");
        }

        Qcow2Header h = new Qcow2Header();
        h.clusterBits = clusterBits;
        h.size = virtualSize;
        h.l1Size = (int) l1Size;
        h.l1TableOffset = l1Offset;
        h.refcountTableOffset = tableOffset;
        h.refcountTableClusters = (int) tableClusters;
        h.refcountOrder = REFCOUNT_ORDER;
        h.backingFile = backingFile;
        h.backingFormat = backingFormat;

        Path tmp = target.resolveSibling("." + target.getFileName() + ".part");
        try {
            Files.deleteIfExists(tmp);
            try (RandomAccessFile raf = new RandomAccessFile(tmp.toFile(), "rw")) {
                FileChannel ch = raf.getChannel();
                writeFully(ch, h.encodeV3(), 0);
                writeFully(ch, ByteBuffer.allocate(8).putLong(0, blockOffset), tableOffset);
                ByteBuffer counts = ByteBuffer.allocate((int) usedClusters * 2);
                for (int i = 0; i < usedClusters; i++) {
                    counts.putShort((short) 1);
                }
                counts.flip();
                writeFully(ch, counts, blockOffset);
                raf.setLength(usedClusters * cs);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException e) {
                throw new VolumeExistsException(target + " already exists; not overwriting it");
            }
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw CowIOException.wrap(target, "creating", e);
        } catch (RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            at += ch.write(b, at);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // the original error is the one to report
        }
    }
}
