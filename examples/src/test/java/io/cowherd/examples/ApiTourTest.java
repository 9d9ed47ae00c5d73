package io.cowherd.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.Volume;
import io.cowherd.domain.ClonedDomain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's tour runs and does what the README says; the README shows its code word for word. */
class ApiTourTest {
    @TempDir
    Path dir;

    @Test
    void theTourRunsAsTheReadmeSays() throws Exception {
        ApiTour.Result r = ApiTour.run(dir);
        assertEquals(List.of("web-01", "web-02"), r.clones().stream().map(Volume::name).toList());
        assertEquals("qcow2", r.info().format());
        assertTrue(r.info().fullBackingFilename().endsWith("golden.qcow2"), r.info().fullBackingFilename());
        assertTrue(r.refusal().contains("web-01") && r.refusal().contains("web-02"), r.refusal());
        assertEquals(Volume.Role.MASTER, r.promoted().role());
        assertEquals("web-02", r.promoted().name());
        // libvirt0 is among the test peers: the domains are cloned, each onto a clone of the golden disk.
        assertEquals(List.of("web-vm-01", "web-vm-02", "web-vm-03"), r.vms().stream().map(ClonedDomain::name).toList());
        for (ClonedDomain vm : r.vms()) {
            assertEquals(1, vm.disks().size());
            assertEquals(Volume.Role.CLONE, vm.disks().get(0).role());
            assertEquals(1, vm.macs().size());
        }
        assertEquals(3, r.vms().stream().map(ClonedDomain::uuid).distinct().count(), "a UUID each");
        assertTrue(r.reopened().stream().anyMatch(v -> v.name().equals("golden") && v.isMaster()), r.reopened().toString());
        assertTrue(Files.exists(dir.resolve("pool/.cowherd/backend")), "the pool records its backend");
    }

    @Test
    void theReadmeShowsTheTourWordForWord() throws Exception {
        String source = Files.readString(Path.of("src/main/java/io/cowherd/examples/ApiTour.java"));
        String region = source.substring(source.indexOf("// tour:start\n") + "// tour:start\n".length(),
                source.indexOf("// tour:end"));
        String tour = region.lines().map(l -> l.length() >= 8 ? l.substring(8) : l.strip())
                .collect(Collectors.joining("\n")).strip();
        String readme = Files.readString(Path.of("../README.md"));
        assertTrue(readme.contains(tour), "README.md shows ApiTour's region between the tour markers, de-indented by 8:\n" + tour);
    }
}
