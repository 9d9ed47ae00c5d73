package io.cowherd.vhd;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CorruptImageException;
import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.spi.CheckReport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code qemu-img check} for VHDs. Corruptions: metadata that does not parse or validate, blocks
 * that overlap each other, a parent that no longer matches. Leaks (harmless, what an interrupted
 * allocation leaves): space between the last block and the footer, a footer missing at the end
 * while its copy at offset 0 is intact, a stale footer copy. Repairing leaks moves the footer
 * back and trims the file.
 */
final class VhdChecker {
    private VhdChecker() {
    }

    static CheckReport check(Path file, ImagePolicy policy, boolean repairLeaks) {
        policy.checkFormat(file, VhdFormat.NAME);
        List<String> problems = new ArrayList<>();
        VhdMetadata meta;
        try (HostFile f = new HostFile(file, repairLeaks)) {
            try {
                meta = VhdMetadata.read(f, policy);
            } catch (CorruptImageException e) {
                problems.add(e.getMessage());
                return new CheckReport(1, 0, 0, problems, 0, 0, f.size());
            }
            if (meta.header == null) {
                return new CheckReport(0, 0, 0, problems, 0, 0, meta.fileSize);
            }
            long corruptions = overlaps(meta, problems);
            if (meta.footer.isDifferencing()) {
                corruptions += checkParent(f, meta, policy, problems);
            }
            long leaks = 0;
            long blockBytes = (long) meta.header.bitmapBytes() + meta.header.blockSize;
            long used = VhdMetadata.metadataEnd(meta.header, meta.headerOffset, meta.bat);
            if (meta.footerOffset > used) {
                long leaked = meta.footerOffset - used;
                leaks += (leaked + blockBytes - 1) / blockBytes;
                problems.add("Leaked space: " + leaked + " bytes between the last block (ends at " + used
                        + ") and the footer at " + meta.footerOffset);
            }
            if (meta.footerMissing) {
                leaks++;
                problems.add("Leak: the footer at the end of the file is missing (its copy at offset 0 is intact)");
            }
            if (meta.staleFooterCopy) {
                leaks++;
                problems.add("Leak: the footer copy at offset 0 is out of date");
            }
            long fixed = 0;
            if (repairLeaks && leaks > 0 && corruptions == 0) {
                byte[] footer = meta.footer.toBytes();
                f.write(footer, used);
                f.truncate(used + VhdFooter.SIZE);
                f.write(footer, 0);
                f.force();
                fixed = leaks;
            }
            long end = (fixed > 0 ? used : meta.footerOffset) + VhdFooter.SIZE;
            return new CheckReport(corruptions, leaks, fixed, problems, meta.bat.allocatedCount(), meta.bat.size(),
                    end);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "checking", e);
        }
    }

    /** Blocks that share bytes: each overlap is a corruption (two guest ranges on one host range). */
    private static long overlaps(VhdMetadata meta, List<String> problems) {
        BlockAllocationTable bat = meta.bat;
        long blockBytes = (long) meta.header.bitmapBytes() + meta.header.blockSize;
        long[][] starts = new long[bat.allocatedCount()][];
        int n = 0;
        for (int i = 0; i < bat.size(); i++) {
            long o = bat.blockOffset(i);
            if (o >= 0) {
                starts[n++] = new long[] {o, i};
            }
        }
        java.util.Arrays.sort(starts, (a, b) -> Long.compare(a[0], b[0]));
        long corruptions = 0;
        for (int i = 0; i < n; i++) {
            if (i > 0 && starts[i][0] < starts[i - 1][0] + blockBytes) {
                corruptions++;
                problems.add("ERROR block " + starts[i][1] + " at " + starts[i][0] + " overlaps block "
                        + starts[i - 1][1] + " at " + starts[i - 1][0]);
            }
            for (ParentLocator l : meta.header.locators) {
                if (l.isKnown() && starts[i][0] < l.dataOffset() + l.dataLength()
                        && starts[i][0] + blockBytes > l.dataOffset()) {
                    corruptions++;
                    problems.add("ERROR block " + starts[i][1] + " overlaps the " + l.platform() + " locator data");
                }
            }
        }
        return corruptions;
    }

    private static long checkParent(HostFile f, VhdMetadata meta, ImagePolicy policy, List<String> problems) {
        try {
            VhdMetadata.ResolvedParent rp = meta.resolveParent(f, policy, 0);
            try (HostFile pf = new HostFile(rp.path(), false)) {
                VhdMetadata pm = VhdMetadata.read(pf, policy);
                meta.checkParent(f.path(), rp.path(), pm.footer);
            }
            return 0;
        } catch (IOException | CowException e) {
            problems.add("ERROR parent: " + e.getMessage());
            return 1;
        }
    }
}
