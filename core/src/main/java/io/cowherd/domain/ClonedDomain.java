package io.cowherd.domain;

import io.cowherd.Volume;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

/**
 * One domain made by {@link DomainCloner}.
 *
 * @param name the new domain's name
 * @param uuid its new UUID (also written to SMBIOS when the source had one there)
 * @param macs the new MAC addresses, one per interface, in document order
 * @param disks the disk clones made in the pool, in document order
 * @param nvram the domain's NVRAM file, or null when the domain has none
 * @param xml the domain XML as defined (or written)
 * @param hostname the hostname its identity gives the guest, or null when no identity was asked for
 */
public record ClonedDomain(String name, UUID uuid, List<String> macs, List<Volume> disks, Path nvram, String xml,
        String hostname) {

    public ClonedDomain {
        macs = List.copyOf(macs);
        disks = List.copyOf(disks);
    }
}
