package io.cowherd.lvm;

import static io.cowherd.lvm.LvmInventory.TAG_MASTER;
import static io.cowherd.lvm.LvmInventory.TAG_ROLE;
import static io.cowherd.lvm.LvmInventory.TAG_SEQ;
import static io.cowherd.lvm.LvmInventory.TAG_SIZE;

import io.cowherd.CowException;
import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.UnsafeBackingException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VirtualDisk;
import io.cowherd.Volume;
import io.cowherd.internal.io.BlockDeviceDisk;
import io.cowherd.internal.io.DiskCopier;
import io.cowherd.internal.pool.PoolChecks;
import io.cowherd.internal.pool.PoolLock;
import io.cowherd.spi.ImageFormat;
import io.cowherd.spi.ImageFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes an LVM pool's volumes: imported masters (a new LV the image is copied into, tagged
 * {@code importing} until the copy is whole, then read-only), adopted masters (an existing LV
 * gets the pool's tags) and clones ({@code lvcreate -s}, one per clone after one {@code lvs}).
 * Each checks names and space first under the pool's lock, and removes what it made if it fails.
 */
final class LvmCreate {
    private static final Logger LOG = LoggerFactory.getLogger(LvmCreate.class);
    private static final String IMPORTING = "importing";

    private final LvmInventory inventory;
    private final LvmSpace space;
    private final LvmLibvirt libvirt;
    private final PoolLock lock;
    private final Path location;
    private final String format;
    private final String vg;
    /** The thin pool's LV name, or null for a classic pool. */
    private final String thinPool;

    LvmCreate(LvmInventory inventory, LvmSpace space, LvmLibvirt libvirt, PoolLock lock, Path location, String format) {
        this.inventory = inventory;
        this.space = space;
        this.libvirt = libvirt;
        this.lock = lock;
        this.location = location;
        this.format = format;
        this.vg = inventory.vg();
        this.thinPool = inventory.thinPool();
    }

    /** See {@link LvmPool#importMaster}; the name is checked. */
    Volume importMaster(String name, Path source, String sourceFormat) {
        ImagePolicy policy = ImagePolicy.operator();
        ImageFormat in = ImageFormats.byName(sourceFormat);
        policy.checkFormat(source, in.name());
        // The source is opened (and so checked) before any LV exists: a bad image leaves nothing.
        try (VirtualDisk disk = in.open(source, policy, false, 0);
                PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = inventory.allLvs();
            inventory.checkFree(all, name);
            long size = disk.size();
            long lvBytes = LvmSpace.roundUp(size, 512);
            long extent = space.checkImportSpace(all, lvBytes, source);
            List<String> cmd = new ArrayList<>(List.of("lvcreate", "-q", "-y", "-Wn", "-n", name));
            if (thinPool == null) {
                cmd.addAll(List.of("-L", lvBytes + "b", "-Zn"));
            } else {
                cmd.addAll(List.of("-V", lvBytes + "b", "-T", vg + "/" + thinPool));
            }
            addTags(cmd, inventory.poolTag(), TAG_ROLE + "=" + IMPORTING, TAG_SIZE + "=" + size,
                    TAG_SEQ + "=" + inventory.nextSeq());
            if (thinPool == null) {
                cmd.add(vg);
            }
            Lvm.run(cmd);
            boolean done = false;
            try {
                Path dev = inventory.devicePath(name);
                // LVM sizes every LV in whole extents (no lvs run to ask; a wrong size would fail the copy).
                long devSize = LvmSpace.roundUp(lvBytes, extent);
                try (BlockDeviceDisk out = new BlockDeviceDisk(dev, devSize, true, e -> e)) {
                    if (thinPool == null) {
                        copyEverything(disk, out, devSize); // a new linear LV holds whatever the PV held
                    } else if (all.get(thinPool).zeroesNewBlocks()) {
                        // Unprovisioned blocks read as zeros and partly written ones are zeroed
                        // first, so zeros are left out and the LV stays thin.
                        DiskCopier.copyContent(disk, out);
                    } else {
                        LOG.info("thin pool {}/{} does not zero new blocks: importing {} writes every byte, zeros "
                                + "included, so no old data shows through (lvchange -Zy {}/{} keeps imports thin)", vg,
                                thinPool, name, vg, thinPool);
                        copyEverything(disk, out, devSize);
                    }
                    out.flush();
                } catch (IOException e) {
                    throw CowIOException.wrap(source, "copying into " + dev, e);
                }
                Lvm.run("lvchange", "-q", "-pr", "--deltag", TAG_ROLE + "=" + IMPORTING, "--addtag",
                        TAG_ROLE + "=master", vg + "/" + name);
                done = true;
                LOG.info("imported {} ({}) as master '{}' in {}", source, in.name(), name, location);
                libvirt.refresh(all);
                return new Volume(name, Volume.Role.MASTER, null, dev, format);
            } finally {
                if (!done) {
                    removeQuietly(List.of(name));
                }
            }
        } catch (IOException e) {
            throw CowIOException.wrap(source, "reading", e);
        }
    }

    private static void copyEverything(VirtualDisk in, VirtualDisk out, long devSize) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        long size = in.size();
        for (long pos = 0; pos < devSize; pos += buf.limit()) {
            buf.clear().limit((int) Math.min(buf.capacity(), devSize - pos));
            if (pos < size) {
                int want = (int) Math.min(buf.limit(), size - pos);
                buf.limit(want);
                in.readFully(buf, pos);
                buf.flip();
            } else {
                while (buf.hasRemaining()) {
                    buf.put((byte) 0); // the rounded-up tail reads as zeros, not old data
                }
                buf.flip();
            }
            out.write(buf, pos);
        }
    }

    /** See {@link LvmPool#adoptMaster}; the name is checked. */
    Volume adopt(String name, Path image) {
        Path dev = image.toAbsolutePath().normalize();
        if (dev.getNameCount() != 3 || !dev.getParent().equals(Path.of("/dev", vg))) {
            throw new UnsafeBackingException(image + " is not a logical volume of " + vg + "; import it instead");
        }
        String lvName = dev.getFileName().toString();
        if (!lvName.equals(name)) {
            throw new IllegalArgumentException("an adopted LV keeps its name: adopt " + image + " as '" + lvName + "'");
        }
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = inventory.allLvs();
            Lvm.Lv l = all.get(name);
            if (l == null) {
                throw new io.cowherd.NoSuchVolumeException(image + " is not a logical volume of " + vg);
            }
            if (l.tag(TAG_ROLE) != null) {
                throw PoolChecks.alreadyRecorded(location, "'" + name + "'");
            }
            if (thinPool == null ? !l.poolLv().isEmpty() || !l.origin().isEmpty() : !thinPool.equals(l.poolLv())) {
                throw new UnsupportedFeatureException("'" + name + "' is not a standalone "
                        + (thinPool == null ? "linear LV" : "thin LV of " + thinPool) + "; import it instead");
            }
            List<String> cmd = new ArrayList<>(List.of("lvchange", "-q", "-pr"));
            addTags(cmd, inventory.poolTag(), TAG_ROLE + "=master", TAG_SIZE + "=" + l.size(),
                    TAG_SEQ + "=" + inventory.nextSeq());
            cmd.add(vg + "/" + name);
            Lvm.run(cmd);
            libvirt.refresh(all);
            return new Volume(name, Volume.Role.MASTER, null, dev, format);
        }
    }

    /**
     * Clones {@code clones} (names checked) of {@code master}; classic ones get COW areas of
     * {@code cowPercent} of the master. Either all are made or none is left.
     */
    List<Volume> createClones(String master, List<String> clones, int cowPercent) {
        try (PoolLock.Held held = lock.acquire()) {
            Map<String, Lvm.Lv> all = inventory.allLvs();
            Lvm.Lv parent = all.get(master);
            if (parent == null || !inventory.ours(parent)) {
                throw PoolChecks.noMaster(location, master);
            }
            PoolChecks.requireMaster(master, inventory.toVolume(parent).role(),
                    "clone a master or merge this clone into its master first");
            for (String c : clones) {
                inventory.checkFree(all, c);
            }
            long cowBytes = thinPool == null ? space.checkClassicSpace(parent, clones.size(), cowPercent)
                    : space.checkThinSpace(all);
            List<String> made = new ArrayList<>(clones.size());
            List<Volume> result = new ArrayList<>(clones.size());
            boolean done = false;
            try {
                for (String c : clones) {
                    List<String> cmd = new ArrayList<>(List.of("lvcreate", "-q", "-y", "-s", "-n", c));
                    if (thinPool == null) {
                        cmd.addAll(List.of("-L", cowBytes + "b"));
                    }
                    // -kn: no activation-skip flag, so a plain "vgchange -ay" after a reboot brings it back.
                    cmd.addAll(List.of("-kn", "-ay", "-prw"));
                    addTags(cmd, inventory.poolTag(), TAG_ROLE + "=clone", TAG_MASTER + "=" + master,
                            TAG_SIZE + "=" + LvmInventory.guestSize(parent), TAG_SEQ + "=" + inventory.nextSeq());
                    cmd.add(vg + "/" + master);
                    Lvm.run(cmd);
                    made.add(c);
                    result.add(new Volume(c, Volume.Role.CLONE, master, inventory.devicePath(c), format));
                }
                done = true;
                LOG.info("{} {} clone(s) of '{}' in {}", thinPool == null ? "classic" : "thin", clones.size(), master,
                        location);
                libvirt.refresh(all);
                return result;
            } finally {
                if (!done) {
                    removeQuietly(made);
                }
            }
        }
    }

    /** After a failure: removes the LVs this step made, logging (not throwing) if that fails too. */
    private void removeQuietly(List<String> names) {
        if (names.isEmpty()) {
            return;
        }
        List<String> cmd = new ArrayList<>(List.of("lvremove", "-q", "-y", "-f"));
        names.forEach(n -> cmd.add(vg + "/" + n));
        try {
            Lvm.run(cmd);
        } catch (CowException e) {
            LOG.warn("could not remove {} after a failure: {}", names, e.getMessage());
        }
    }

    private static void addTags(List<String> cmd, String... tags) {
        for (String t : tags) {
            cmd.add("--addtag");
            cmd.add(t);
        }
    }
}
