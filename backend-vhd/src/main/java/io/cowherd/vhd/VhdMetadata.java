package io.cowherd.vhd;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CorruptImageException;
import io.cowherd.ImagePolicy;
import io.cowherd.NoSuchVolumeException;
import io.cowherd.UnsafeBackingException;
import io.cowherd.WrongFormatException;
import io.cowherd.spi.ImageFormats;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Everything a VHD's metadata says, read and validated in one place: the footer (from the end,
 * or from its copy at offset 0 when a crash cut the end off), the dynamic header and the block
 * allocation table. Used by opening, {@code info} and {@code check} alike, so they all judge a
 * file the same way.
 */
final class VhdMetadata {
    final VhdFooter footer;
    final DynamicHeader header;
    final long headerOffset;
    final BlockAllocationTable bat;
    final long fileSize;
    /** Where the footer at the end lies (or must be written, when it is missing). */
    final long footerOffset;
    /** The end footer is missing (the copy at offset 0 was used): repairable. */
    final boolean footerMissing;
    /** The copy at offset 0 is valid but differs from the end footer (an interrupted resize): repairable. */
    final boolean staleFooterCopy;

    private VhdMetadata(VhdFooter footer, DynamicHeader header, long headerOffset, BlockAllocationTable bat,
            long fileSize, long footerOffset, boolean footerMissing, boolean staleFooterCopy) {
        this.footer = footer;
        this.header = header;
        this.headerOffset = headerOffset;
        this.bat = bat;
        this.fileSize = fileSize;
        this.footerOffset = footerOffset;
        this.footerMissing = footerMissing;
        this.staleFooterCopy = staleFooterCopy;
    }

    static VhdMetadata read(HostFile f, ImagePolicy policy) {
        Path path = f.path();
        long fileSize = f.size();
        if (fileSize < VhdFooter.SIZE) {
            byte[] head = f.readMetadata(0, (int) fileSize, "footer");
            if (VhdFooter.hasCookie(ByteBuffer.wrap(head))) {
                throw new CorruptImageException(path, "footer", 0, "the file is " + fileSize
                        + " bytes, shorter than a footer (512 bytes)");
            }
            throw new WrongFormatException(path, "vhd", "only " + fileSize + " bytes, no VHD footer");
        }
        byte[] tail = f.readMetadata(fileSize - VhdFooter.SIZE, VhdFooter.SIZE, "footer");
        byte[] head = f.readMetadata(0, VhdFooter.SIZE, "footer copy");
        boolean tailOk = VhdFooter.hasCookie(ByteBuffer.wrap(tail));
        boolean headOk = VhdFooter.hasCookie(ByteBuffer.wrap(head));
        if (!tailOk && !headOk) {
            throw new WrongFormatException(path, "vhd", "no 'conectix' footer cookie at the end or at offset 0");
        }
        VhdFooter footer;
        boolean missing = false;
        boolean stale = false;
        if (tailOk) {
            footer = VhdFooter.parse(tail, path, fileSize - VhdFooter.SIZE);
            if (!footer.isFixed()) {
                if (!headOk) {
                    throw new CorruptImageException(path, "footer copy", 0, "a " + footer.typeName()
                            + " disk must carry a copy of its footer at offset 0; none is there");
                }
                if (!Arrays.equals(head, tail)) {
                    VhdFooter copy = VhdFooter.parse(head, path, 0);
                    if (!Arrays.equals(copy.uniqueId, footer.uniqueId) || copy.diskType != footer.diskType) {
                        throw new CorruptImageException(path, "footer copy", 0, "describes another disk than "
                                + "the footer at the end (unique id " + VhdFooter.uuidString(copy.uniqueId)
                                + " versus " + VhdFooter.uuidString(footer.uniqueId) + ")");
                    }
                    stale = true;
                }
            }
        } else {
            footer = VhdFooter.parse(head, path, 0);
            if (footer.isFixed()) {
                throw new CorruptImageException(path, "footer", fileSize - VhdFooter.SIZE,
                        "a fixed disk's footer must be at the end of the file; it is missing");
            }
            missing = true;
        }
        ImageFormats.checkSize(path, footer.currentSize, policy);
        if (footer.isFixed()) {
            if (fileSize - VhdFooter.SIZE < footer.currentSize) {
                throw new CorruptImageException(path, "footer current_size", fileSize - VhdFooter.SIZE + 48,
                        footer.currentSize + " bytes do not fit in front of the footer (file is " + fileSize
                                + " bytes)");
            }
            return new VhdMetadata(footer, null, -1, null, fileSize, fileSize - VhdFooter.SIZE, false, false);
        }
        long headerOffset = footer.dataOffset;
        if (headerOffset < VhdFooter.SIZE || headerOffset > fileSize - DynamicHeader.SIZE) {
            throw new CorruptImageException(path, "footer data_offset", (missing ? 0 : fileSize - VhdFooter.SIZE) + 16,
                    headerOffset + " does not leave room for the 1024-byte dynamic header inside the file ("
                            + fileSize + " bytes)");
        }
        byte[] rawHeader = f.readMetadata(headerOffset, DynamicHeader.SIZE, "dynamic header");
        DynamicHeader header = DynamicHeader.parse(rawHeader, path, headerOffset, footer, fileSize, policy);
        long dataLimit = missing ? fileSize : fileSize - VhdFooter.SIZE;
        BlockAllocationTable bat = BlockAllocationTable.read(f, headerOffset, header, dataLimit);
        long footerOffset = missing ? metadataEnd(header, headerOffset, bat) : fileSize - VhdFooter.SIZE;
        return new VhdMetadata(footer, header, headerOffset, bat, fileSize, footerOffset, missing, stale);
    }

    /** Where the last structure the metadata references ends: header, table, locator data, blocks. */
    static long metadataEnd(DynamicHeader h, long headerOffset, BlockAllocationTable bat) {
        long end = Math.max(VhdFooter.SIZE, headerOffset + DynamicHeader.SIZE);
        end = Math.max(end, h.tableOffset + VhdLayout.tableBytes(h.maxTableEntries));
        for (ParentLocator l : h.locators) {
            if (l.isKnown()) {
                end = Math.max(end, l.dataOffset() + VhdLayout.roundUp(l.dataLength()));
            }
        }
        long blockBytes = (long) h.bitmapBytes() + h.blockSize;
        for (int i = 0; i < bat.size(); i++) {
            long o = bat.blockOffset(i);
            if (o >= 0) {
                end = Math.max(end, o + blockBytes);
            }
        }
        return end;
    }

    /** A backing reference recorded in a differencing disk, and where it was recorded. */
    record ParentReference(String reference, String source) {
    }

    /** Every usable parent reference, in the order they are tried: W2ru, MacX, W2ku, then the parent name. */
    List<ParentReference> parentReferences(HostFile f) {
        List<ParentReference> refs = new ArrayList<>();
        for (int code : new int[] {ParentLocator.W2RU, ParentLocator.MACX, ParentLocator.W2KU}) {
            for (ParentLocator l : header.locators) {
                if (l.code() == code && l.dataLength() > 0) {
                    byte[] data = f.readMetadata(l.dataOffset(), l.dataLength(), "parent locator " + l.platform());
                    String s = ParentLocator.decode(code, data);
                    if (s != null) {
                        refs.add(new ParentReference(s, l.platform()));
                    }
                }
            }
        }
        if (!header.parentName.isEmpty()) {
            String s = header.parentName.replace('\\', '/');
            if (!(s.length() >= 2 && s.charAt(1) == ':')) {
                refs.add(new ParentReference(s, "parent name"));
            }
        }
        return refs;
    }

    /** Resolves the parent of a differencing disk as the policy allows: the first reference that exists. */
    ResolvedParent resolveParent(HostFile f, ImagePolicy policy, int depth) {
        List<ParentReference> refs = parentReferences(f);
        RuntimeException first = null;
        for (ParentReference r : refs) {
            try {
                Path p = ImageFormats.resolveBacking(f.path(), r.reference(), policy, depth);
                return new ResolvedParent(r.reference(), p);
            } catch (UnsafeBackingException | NoSuchVolumeException e) {
                if (first == null || (first instanceof NoSuchVolumeException && e instanceof UnsafeBackingException)) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
        throw new CorruptImageException(f.path(), "parent locators", headerOffset + DynamicHeader.LOCATORS_AT,
                "a differencing disk records no parent path this host can use");
    }

    /** The parent's reference as recorded and its resolved path. */
    record ResolvedParent(String reference, Path path) {
    }

    /** Throws unless {@code parent} is the disk this differencing disk was made on. */
    void checkParent(Path child, Path parentPath, VhdFooter parent) {
        if (!Arrays.equals(parent.uniqueId, header.parentUuid)) {
            throw new UnsafeBackingException(child + ": parent " + parentPath + " has unique id "
                    + VhdFooter.uuidString(parent.uniqueId) + " but the child was made on "
                    + VhdFooter.uuidString(header.parentUuid) + " (dynamic header parent_unique_id at offset "
                    + (headerOffset + 40) + "); the parent was replaced, and reading through it would show "
                    + "corrupt data: restore the right parent");
        }
        if (parent.timestamp != header.parentTimestamp) {
            throw new UnsafeBackingException(child + ": parent " + parentPath + " has timestamp " + parent.timestamp
                    + " but the child recorded " + header.parentTimestamp + " (dynamic header parent_timestamp at "
                    + "offset " + (headerOffset + 56) + "); the parent was rewritten since the child was made: "
                    + "restore the right parent");
        }
    }
}
