package io.cowherd;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What an image is: its format, sizes and backing chain. The field names follow
 * {@code qemu-img info} so that its users recognise them.
 *
 * @param location the image's file (or device) path
 * @param format format name, for example {@code qcow2} or {@code raw}
 * @param virtualSize guest-visible size in bytes
 * @param actualSize bytes allocated on the host for this layer alone
 * @param clusterSize allocation unit of the format, or 0 when it has none
 * @param backingFilename the backing reference exactly as recorded in the image, or null
 * @param backingFormat the backing format recorded in the image, or null
 * @param fullBackingFilename the backing reference resolved to a path, or null
 * @param backing information on the backing image, or null at the bottom of the chain
 */
public record VolumeInfo(String location, String format, long virtualSize, long actualSize, int clusterSize,
        String backingFilename, String backingFormat, String fullBackingFilename, VolumeInfo backing) {

    /** This image followed by its backing images, top first. */
    public List<VolumeInfo> chain() {
        List<VolumeInfo> chain = new ArrayList<>();
        for (VolumeInfo i = this; i != null; i = i.backing) {
            chain.add(i);
        }
        return Collections.unmodifiableList(chain);
    }
}
