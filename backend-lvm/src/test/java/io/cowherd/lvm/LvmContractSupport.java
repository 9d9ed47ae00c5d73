package io.cowherd.lvm;

import io.cowherd.CowBackend;
import io.cowherd.testkit.BackendContractTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The shared contract kit on LVM, in a real kernel: each test gets a fresh volume group (and, for
 * thin, a fresh thin pool) on loop-backed PVs; afterwards the volume group is removed and no
 * device of it may remain, and after the class the loops are detached.
 */
abstract class LvmContractSupport extends BackendContractTest {
    static LvmTestbed bed;
    static Path bedDir;
    private Path location;

    @BeforeAll
    static void makePvs() throws IOException {
        bedDir = Files.createTempDirectory("lvm-contract");
        bed = new LvmTestbed(bedDir, 2048);
    }

    @AfterAll
    static void dropPvs() throws IOException {
        if (bed != null) {
            bed.close();
        }
        try (var s = Files.list(bedDir)) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(bedDir);
    }

    /** A fresh pool location for this test. */
    abstract Path freshLocation();

    @Override
    protected CowBackend backend() {
        return new LvmBackend();
    }

    @Override
    protected Path poolLocation() {
        if (location == null) {
            location = freshLocation();
        }
        return location;
    }

    /** The volume group's LVs stand for "files" in the kit's nothing-left-behind checks. */
    @Override
    protected Set<String> filesIn(Path dir) throws IOException {
        if (location != null && dir.equals(location)) {
            String vg = location.getName(1).toString();
            return Lvm.lvs(vg).stream().map(Lvm.Lv::name).collect(Collectors.toSet());
        }
        return super.filesIn(dir);
    }

    // Inside User-mode Linux (one CPU, every syscall through ptrace) an LVM command costs 0.4-1 s
    // even through the lvm shell (an activated snapshot's lvcreate ~0.6 s, more as the VG's
    // metadata grows), and each clone or delete is a listing plus the change, serialised by the
    // pool lock. At the kit's counts (1000 clones, 16 x 20, 2 x 150) one pool kind would take
    // over 20 minutes, past the module's budget; so the counts are scaled down, each still
    // meaningful: 20 clones for "many clones" (first, middle and last read back are distinct),
    // 8 threads x 2 clones (each thread clones, deletes one and keeps one, while the others
    // contend for the lock), 2 processes x 5 clones (the cross-process lock on every clone).
    @Override
    protected int thousandClonesCount() {
        return 20;
    }

    @Override
    protected int cloningThreads() {
        return 8;
    }

    @Override
    protected int clonesPerThread() {
        return 2;
    }

    @Override
    protected int clonesPerProcess() {
        return 5;
    }

    @AfterEach
    void removeVolumeGroup() throws IOException {
        if (location != null) {
            LvmTestbed.removeVg(location.getName(1).toString());
        }
    }
}
