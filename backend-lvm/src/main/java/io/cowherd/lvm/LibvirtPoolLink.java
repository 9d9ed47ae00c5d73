package io.cowherd.lvm;

import io.cowherd.CowException;
import io.cowherd.VolumeExistsException;
import io.cowherd.domain.LibvirtFailureException;
import java.util.regex.Pattern;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.StoragePool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The libvirt storage pool that shows an {@link LvmPool}'s volumes to every libvirt tool
 * ({@code virsh vol-list}, virt-manager, {@code virt-install --disk vol=POOL/VOL}).
 *
 * <p>A classic pool becomes a {@code logical} pool on the volume group. libvirt's logical
 * backend skips thin volumes (they have no devices in its {@code lvs} parsing), so a thin pool
 * becomes a {@code dir} pool on {@code /dev/VG}, where libvirt lists each LV's device node as a
 * raw volume. Deleting a volume through such a {@code dir} pool removes only the device's symlink,
 * never the LV.
 *
 * <p>The connection is opened lazily from {@link LvmSettings#libvirtUri()} unless one is handed
 * in, and kept; one that fails is dropped and opened again at the next refresh.
 */
final class LibvirtPoolLink {
    private static final Logger LOG = LoggerFactory.getLogger(LibvirtPoolLink.class);
    /** libvirt allows more, but these need no XML escaping and match LVM's own name rules. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9+_.-]{1,100}");

    private final String uri;
    private Connect connection;
    /** Whether {@link #connection} was opened here (and so is closed here). */
    private boolean ownsConnection;
    private boolean warnedUnavailable;

    LibvirtPoolLink(String uri) {
        this.uri = uri;
    }

    /** Uses {@code c} from now on (the caller keeps ownership). */
    synchronized void use(Connect c) {
        close();
        this.connection = c;
    }

    /** Closes the connection if it was opened here; a handed-in one stays open. */
    synchronized void close() {
        if (connection != null && ownsConnection) {
            try {
                connection.close();
            } catch (LibvirtException e) {
                LOG.debug("closing the libvirt connection: {}", e.getMessage());
            }
        }
        connection = null;
        ownsConnection = false;
    }

    /** The XML of the libvirt pool for volume group {@code vg}: logical, or dir for thin pools. */
    static String poolXml(String name, String vg, boolean thin) {
        checkName(name);
        if (thin) {
            return "<pool type='dir'><name>" + name + "</name><target><path>/dev/" + vg + "</path></target></pool>";
        }
        return "<pool type='logical'><name>" + name + "</name><source><name>" + vg + "</name><format type='lvm2'/>"
                + "</source><target><path>/dev/" + vg + "</path></target></pool>";
    }

    static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("'" + name + "' is not a usable libvirt pool name: 1-100 of A-Z a-z "
                    + "0-9 + _ . -");
        }
    }

    /**
     * Defines (persistent, autostarted) and starts pool {@code name} for {@code vg}; an existing
     * pool of that name is reused when it shows the same volume group the same way.
     */
    synchronized void define(String name, String vg, boolean thin) {
        String xml = poolXml(name, vg, thin);
        Connect c = connection();
        try {
            StoragePool p = lookup(c, name);
            if (p == null) {
                p = c.storagePoolDefineXML(xml, 0);
                LOG.info("defined libvirt storage pool '{}' ({}) for /dev/{} on {}", name, thin ? "dir" : "logical", vg,
                        uriOf(c));
            } else if (!showsSame(p.getXMLDesc(0), vg, thin)) {
                throw new VolumeExistsException("libvirt on " + uriOf(c) + " already has a storage pool named '" + name
                        + "' that does not show volume group " + vg + " as " + (thin ? "a dir pool on /dev/" + vg
                        : "a logical pool") + "; choose another name");
            }
            if (p.isActive() == 0) {
                p.create(0);
            }
            p.setAutostart(1);
            p.refresh(0);
        } catch (LibvirtException e) {
            throw failure("defining storage pool '" + name + "' for volume group " + vg, c, e);
        }
    }

    private static boolean showsSame(String xml, String vg, boolean thin) {
        String compact = xml.replaceAll("\\s+", "");
        if (thin) {
            return compact.contains("type='dir'") && compact.contains("<path>/dev/" + vg + "</path>");
        }
        return compact.contains("type='logical'") && compact.contains("<source>") && compact.contains("<name>" + vg
                + "</name>");
    }

    /**
     * Refreshes pool {@code name} so libvirt sees the volumes as they are now. Never throws: the
     * LVM change is done either way, and a failure is logged with what to run by hand.
     */
    synchronized void refreshQuietly(String name) {
        Connect c;
        try {
            c = connection();
        } catch (RuntimeException | LinkageError e) {
            if (!warnedUnavailable) {
                LOG.warn("cannot reach libvirt at {} to refresh storage pool '{}' ({}); run: virsh pool-refresh {}", uri,
                        name, e.getMessage(), name);
                warnedUnavailable = true;
            }
            return;
        }
        try {
            StoragePool p = lookup(c, name);
            if (p == null) {
                LOG.warn("libvirt at {} has no storage pool '{}' any more (the volume group's tag names it); "
                        + "define it again or remove the tag", uriOf(c), name);
            } else if (p.isActive() == 0) {
                LOG.warn("libvirt storage pool '{}' is not active; not refreshed (virsh pool-start {})", name, name);
            } else {
                p.refresh(0);
                LOG.debug("refreshed libvirt storage pool '{}'", name);
            }
        } catch (LibvirtException e) {
            LOG.warn("refreshing libvirt storage pool '{}' failed: {}; run: virsh pool-refresh {}", name, e.getMessage(),
                    name);
            drop(c);
        }
    }

    /** The names of the volumes libvirt lists in pool {@code name} (after a refresh). */
    synchronized java.util.List<String> volumes(String name) {
        Connect c = connection();
        try {
            StoragePool p = lookup(c, name);
            if (p == null) {
                throw new io.cowherd.NoSuchVolumeException("libvirt on " + uriOf(c) + " has no storage pool '" + name + "'");
            }
            return java.util.Arrays.stream(p.listVolumes()).sorted().toList();
        } catch (LibvirtException e) {
            throw failure("listing storage pool '" + name + "'", c, e);
        }
    }

    private static StoragePool lookup(Connect c, String name) throws LibvirtException {
        try {
            return c.storagePoolLookupByName(name);
        } catch (LibvirtException e) {
            if (e.getError() != null && e.getError().getCode() == org.libvirt.Error.ErrorNumber.VIR_ERR_NO_STORAGE_POOL) {
                return null;
            }
            throw e;
        }
    }

    private Connect connection() {
        if (connection == null) {
            try {
                connection = new Connect(uri);
                ownsConnection = true;
            } catch (LibvirtException e) {
                throw failure("connecting", null, e);
            }
        }
        return connection;
    }

    private void drop(Connect c) {
        if (connection == c && ownsConnection) {
            close(); // opened again next time; a handed-in connection is the caller's to keep
        }
    }

    private String uriOf(Connect c) {
        try {
            return c.getURI();
        } catch (LibvirtException e) {
            return uri;
        }
    }

    private CowException failure(String action, Connect c, LibvirtException e) {
        String code = e.getError() == null ? null : String.valueOf(e.getError().getCode());
        return new LibvirtFailureException("libvirt failed " + action + " on " + (c == null ? uri : uriOf(c)) + ": "
                + e.getMessage(), null, code, e);
    }
}
