package io.cowherd.dmsnapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;

/** Asserts that no device-mapper table or loop device was left behind. */
final class KernelLeaks {
    private KernelLeaks() {
    }

    /** Deactivates {@code pool}, then checks that nothing of it, nor any loop on {@code dir}, remains. */
    static void tearDownAndCheck(DmSnapshotPool pool, Path dir) {
        pool.deactivate();
        assertNone(dir);
    }

    static void assertNone(Path dir) {
        List<String> tables = DeviceMapper.list().stream()
                .filter(n -> DeviceMapper.status(n).map(d -> d.uuid().startsWith("COWHERD-")).orElse(false)).toList();
        assertEquals(List.of(), tables, "leaked device-mapper tables");
        assertEquals(List.of(), LoopDevices.attachedUnder(dir), "leaked loop devices");
    }
}
