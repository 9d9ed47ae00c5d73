package io.cowherd.distribution.stream;

import io.cowherd.distribution.bundle.BootProfile;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Every read the exports serve, in the order they came, for a {@link BootProfile}. */
final class ReadRecorder {
    private static final Logger LOG = LoggerFactory.getLogger(ReadRecorder.class);
    private final List<BootProfile.Read> reads = new ArrayList<>();

    synchronized void record(String disk, long offset, long length) {
        if (reads.size() < BootProfile.MAX_READS) {
            reads.add(new BootProfile.Read(disk, offset, length));
        } else if (reads.size() == BootProfile.MAX_READS) {
            LOG.warn("boot profile full ({} reads); later reads are not recorded", BootProfile.MAX_READS);
        }
    }

    synchronized BootProfile profile() {
        return new BootProfile(reads);
    }
}
