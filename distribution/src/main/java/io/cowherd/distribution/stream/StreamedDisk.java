package io.cowherd.distribution.stream;

/**
 * One image a {@link MasterStream} exports.
 *
 * @param export the export's name (the image's file name in the bundle)
 * @param uri what QEMU, libnbd and qcow2 backing references take: {@code nbd+unix:///EXPORT?socket=PATH}
 * @param format the image's format as the bundle's manifest records it ({@code qcow2}, {@code raw}, ...),
 *     or null for a file of a torrent that is not a bundle
 * @param size the exported file's size in bytes
 * @param virtualSize the disk's size as a guest sees it (from the manifest), or -1 if not known
 */
public record StreamedDisk(String export, String uri, String format, long size, long virtualSize) {
}
