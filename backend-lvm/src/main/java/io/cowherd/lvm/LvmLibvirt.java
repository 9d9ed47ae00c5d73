package io.cowherd.lvm;

import io.cowherd.NoSuchVolumeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which libvirt storage pool shows an LVM pool, kept where every host sees it: a volume group tag
 * {@code cowherd.libvirt=KIND/NAME} (KIND {@code classic} or {@code thin:THINPOOL}). After each
 * change any cowherd process refreshes that libvirt pool through its {@link LibvirtPoolLink}.
 * Callers hold the pool's lock for {@link #define}.
 */
final class LvmLibvirt {
    /** Volume group tag {@code cowherd.libvirt=KIND/NAME}: the libvirt storage pool that shows this pool. */
    static final String TAG_LIBVIRT = "cowherd.libvirt";

    private final LibvirtPoolLink link;
    private final Path location;
    private final String vg;
    /** The thin pool's LV name, or null for a classic pool. */
    private final String thinPool;

    LvmLibvirt(LibvirtPoolLink link, Path location, String vg, String thinPool) {
        this.link = link;
        this.location = location;
        this.vg = vg;
        this.thinPool = thinPool;
    }

    /** See {@link LvmPool#useLibvirt}. */
    void use(org.libvirt.Connect connection) {
        link.use(connection);
    }

    /** See {@link LvmPool#defineLibvirtPool}. */
    void define(String name) {
        link.define(name, vg, thinPool != null);
        String tag = tagPrefix() + name;
        List<String> cmd = new ArrayList<>(List.of("vgchange", "-q"));
        for (String old : Lvm.vgTags(vg)) {
            if (old.startsWith(tagPrefix()) && !old.equals(tag)) {
                cmd.addAll(List.of("--deltag", old));
            }
        }
        cmd.addAll(List.of("--addtag", tag, vg));
        Lvm.run(cmd);
    }

    /** The libvirt storage pool recorded for this pool, if one was defined. */
    Optional<String> pool() {
        return pool(Lvm.vgTags(vg));
    }

    /** See {@link LvmPool#libvirtVolumes}. */
    List<String> volumes() {
        String name = pool().orElseThrow(() -> new NoSuchVolumeException("no libvirt storage pool is defined "
                + "for " + location + " (defineLibvirtPool)"));
        return link.volumes(name);
    }

    /** After a change: refreshes the recorded libvirt pool, if any ({@code all} carries the VG's tags). */
    void refresh(Map<String, Lvm.Lv> all) {
        List<String> tags = all.isEmpty() ? Lvm.vgTags(vg) : all.values().iterator().next().vgTags();
        pool(tags).ifPresent(link::refreshQuietly);
    }

    /** Closes the libvirt connection opened for refreshes, if any. */
    void close() {
        link.close();
    }

    private String tagPrefix() {
        return TAG_LIBVIRT + "=" + (thinPool == null ? "classic" : "thin:" + thinPool) + "/";
    }

    private Optional<String> pool(List<String> vgTags) {
        String prefix = tagPrefix();
        return vgTags.stream().filter(t -> t.startsWith(prefix)).map(t -> t.substring(prefix.length())).findFirst();
    }
}
