package io.cowherd.domain;

/**
 * A read-only view of one {@code <disk>} element of a domain.
 *
 * @param targetDev the guest device name ({@code <target dev>}), for example {@code vda}
 * @param device {@code disk}, {@code cdrom}, {@code floppy} or {@code lun}
 * @param type the source type ({@code file}, {@code block}, {@code network}, {@code volume}, ...)
 * @param driverType the image format from {@code <driver type>}, or null when not stated
 * @param source the source file ({@code <source file>}) or device ({@code <source dev>}), or null
 * @param readOnly whether the disk has {@code <readonly/>}
 * @param shareable whether the disk has {@code <shareable/>}
 * @param transientDisk whether the disk has {@code <transient/>} (guest writes are discarded)
 */
public record DomainDisk(String targetDev, String device, String type, String driverType, String source,
        boolean readOnly, boolean shareable, boolean transientDisk) {

    /**
     * Whether each clone needs its own copy of this disk: a {@code device='disk'} that the guest
     * can write and that is not declared shared. Everything else (CD-ROMs, floppies, read-only,
     * shareable and transient disks) is left pointing at the same source.
     */
    public boolean needsClone() {
        return "disk".equals(device) && !readOnly && !shareable && !transientDisk;
    }
}
