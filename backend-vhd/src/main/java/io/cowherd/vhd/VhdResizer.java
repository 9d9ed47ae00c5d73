package io.cowherd.vhd;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.UnsupportedFeatureException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Metadata changes to existing VHDs: growing them ({@code qemu-img resize}) and pointing a
 * differencing disk at another parent ({@code qemu-img rebase}). Each writes new structures where
 * nothing points yet, then switches the one header or footer that makes them live.
 */
final class VhdResizer {
    private VhdResizer() {
    }

    static void resize(Path file, long newSize, ImagePolicy policy) {
        // Opening writable first repairs a footer an earlier crash left behind.
        try (VhdImage img = VhdImage.open(file, policy, true, 0)) {
            img.flush();
        } catch (IOException e) {
            throw CowIOException.wrap(file, "opening", e);
        }
        long size = VhdCreator.diskSize(file, newSize);
        policy.checkVirtualSize(file, size);
        try (HostFile f = new HostFile(file, true)) {
            VhdMetadata meta = VhdMetadata.read(f, policy);
            VhdFooter footer = meta.footer;
            long old = footer.currentSize;
            if (size < old) {
                throw new UnsupportedFeatureException(file + ": shrinking a VHD from " + old + " to " + size
                        + " bytes would drop data; only growing is supported");
            }
            if (size == old) {
                return;
            }
            footer.setSize(size);
            if (footer.isFixed()) {
                f.write(footer.toBytes(), size);
                // The old footer now lies inside the disk: it must read as zeros.
                f.write(new byte[(int) Math.min(VhdFooter.SIZE, size - old)], old);
                f.force();
                return;
            }
            DynamicHeader h = meta.header;
            long footerAt = meta.footerOffset;
            long need = (size + h.blockSize - 1) / h.blockSize;
            if (need * 4 > policy.maxMetadataBytes()) {
                throw new UnsupportedFeatureException(file + ": " + need + " table entries exceed the image policy's "
                        + "limit of " + policy.maxMetadataBytes() + " bytes");
            }
            int entries = h.maxTableEntries;
            if (need > entries) {
                long capacity = VhdLayout.tableBytes(entries) / 4;
                byte[] fresh = new byte[(int) ((need - entries) * 4)];
                Arrays.fill(fresh, (byte) 0xFF);
                if (need <= capacity) {
                    f.write(fresh, h.tableOffset + 4L * entries);
                } else {
                    byte[] table = BlockAllocationTable.emptyBytes((int) need);
                    byte[] oldTable = f.readMetadata(h.tableOffset, entries * 4, "block allocation table");
                    System.arraycopy(oldTable, 0, table, 0, oldTable.length);
                    f.write(footer.toBytes(), footerAt + table.length);
                    f.write(table, footerAt);
                    h.tableOffset = footerAt;
                    footerAt += table.length;
                }
                h.maxTableEntries = (int) need;
                f.write(h.toBytes(), meta.headerOffset);
            }
            byte[] fb = footer.toBytes();
            f.write(fb, footerAt);
            f.write(fb, 0);
            f.force();
        } catch (IOException e) {
            throw CowIOException.wrap(file, "resizing", e);
        }
    }

    static void rebase(Path overlay, Path newBacking, String newBackingFormat, boolean unsafe, ImagePolicy policy,
            io.cowherd.CopyProgress progress) {
        Path target = newBacking == null ? null : newBacking.toAbsolutePath().normalize();
        if (target != null) {
            if (!VhdFormat.NAME.equals(newBackingFormat)) {
                throw new UnsupportedFeatureException("a VHD differencing disk needs a VHD parent, not "
                        + newBackingFormat);
            }
            policy.checkBackingLocation(overlay, target);
            policy.checkFormat(target, VhdFormat.NAME);
        }
        try {
            if (!unsafe) {
                copyDifferences(overlay, target, policy, progress);
            }
            rewriteParent(overlay, target, policy);
        } catch (IOException e) {
            throw CowIOException.wrap(overlay, "rebasing", e);
        }
    }

    /** Copies into the child every sector where the old chain and the new parent differ. */
    private static void copyDifferences(Path overlay, Path target, ImagePolicy policy, io.cowherd.CopyProgress progress)
            throws IOException {
        try (VhdImage child = VhdImage.open(overlay, policy, true, 0);
                VhdImage np = target == null ? null : VhdImage.open(target, policy, false, 1)) {
            if (!child.footer().isDifferencing()) {
                throw new UnsupportedFeatureException(overlay + " is a " + child.footer().typeName()
                        + " VHD; only differencing disks have a parent to change");
            }
            int bs = child.blockSize();
            ByteBuffer a = ByteBuffer.allocate(bs);
            ByteBuffer b = ByteBuffer.allocate(bs);
            BlockAllocationTable bat = child.bat();
            for (int blk = 0; blk < bat.size(); blk++) {
                long base = (long) blk * bs;
                if (base >= child.size()) {
                    break;
                }
                progress.advanced(base, child.size());
                long off = bat.blockOffset(blk);
                if (off >= 0 && child.bitmap(blk, off).isFull()) {
                    continue;
                }
                int len = (int) Math.min(bs, child.size() - base);
                a.clear().limit(len);
                child.readFully(a, base);
                b.clear().limit(len);
                if (np != null && base < np.size()) {
                    ByteBuffer part = b.slice().limit((int) Math.min(len, np.size() - base));
                    np.readFully(part, base);
                }
                for (int s = 0; s < len; s += VhdLayout.SECTOR) {
                    int e = s;
                    while (e < len && !a.slice(e, VhdLayout.SECTOR).equals(b.slice(e, VhdLayout.SECTOR))) {
                        e += VhdLayout.SECTOR;
                    }
                    if (e > s) {
                        child.write(a.slice(s, e - s), base + s);
                        s = e - VhdLayout.SECTOR;
                    }
                }
            }
            child.flush();
            progress.advanced(child.size(), child.size());
        }
    }

    /** Records the new parent (or none: the child becomes a dynamic disk). */
    private static void rewriteParent(Path overlay, Path target, ImagePolicy policy) throws IOException {
        VhdFooter parentFooter = null;
        if (target != null) {
            try (HostFile pf = new HostFile(target, false)) {
                parentFooter = VhdMetadata.read(pf, policy).footer;
            }
        }
        try (HostFile f = new HostFile(overlay, true)) {
            VhdMetadata meta = VhdMetadata.read(f, policy);
            if (!meta.footer.isDifferencing()) {
                throw new UnsupportedFeatureException(overlay + " is a " + meta.footer.typeName()
                        + " VHD; only differencing disks have a parent to change");
            }
            DynamicHeader h = meta.header;
            Arrays.fill(h.locators, new ParentLocator(0, 0, 0, 0));
            long footerAt = meta.footerOffset;
            VhdFooter footer = meta.footer;
            if (parentFooter == null) {
                h.parentUuid = new byte[16];
                h.parentTimestamp = 0;
                h.parentName = "";
                footer.diskType = VhdFooter.TYPE_DYNAMIC;
                f.write(h.toBytes(), meta.headerOffset);
            } else {
                String relative = overlay.toAbsolutePath().normalize().getParent().relativize(target).toString();
                byte[] w2ru = ParentLocator.encode(ParentLocator.W2RU, ".\\" + relative.replace('/', '\\'));
                byte[] w2ku = ParentLocator.encode(ParentLocator.W2KU, target.toString().replace('/', '\\'));
                int ruSpace = (int) VhdLayout.roundUp(Math.max(1, w2ru.length));
                int kuSpace = (int) VhdLayout.roundUp(Math.max(1, w2ku.length));
                ByteBuffer data = ByteBuffer.allocate(ruSpace + kuSpace);
                data.put(w2ru).position(ruSpace);
                data.put(w2ku);
                h.locators[0] = new ParentLocator(ParentLocator.W2RU, ruSpace / VhdLayout.SECTOR, w2ru.length, footerAt);
                h.locators[1] = new ParentLocator(ParentLocator.W2KU, kuSpace / VhdLayout.SECTOR, w2ku.length,
                        footerAt + ruSpace);
                h.parentUuid = parentFooter.uniqueId.clone();
                h.parentTimestamp = parentFooter.timestamp;
                h.parentName = relative;
                // Locator data and the footer after it first; the header that points at them last.
                f.write(footer.toBytes(), footerAt + data.capacity());
                f.write(data.array(), footerAt);
                footerAt += data.capacity();
                f.write(h.toBytes(), meta.headerOffset);
            }
            byte[] fb = footer.toBytes();
            f.write(fb, footerAt);
            f.write(fb, 0);
            f.force();
        }
    }
}
