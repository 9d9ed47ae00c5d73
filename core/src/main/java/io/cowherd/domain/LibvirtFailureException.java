package io.cowherd.domain;

import io.cowherd.CowException;
import org.libvirt.LibvirtException;

/**
 * libvirt refused or failed an operation on a domain. The message names the domain, the
 * connection, what cowherd was doing, libvirt's own message and what to do about it; the cause
 * is the {@link LibvirtException}.
 */
public class LibvirtFailureException extends CowException {
    private static final long serialVersionUID = 1L;

    private final String domainName;
    private final String errorCode;

    /**
     * @param domainName the domain concerned (may be null for connection-wide operations)
     * @param errorCode libvirt's error number name, for example {@code VIR_ERR_NO_DOMAIN}, or null
     */
    public LibvirtFailureException(String message, String domainName, String errorCode, Throwable cause) {
        super(message, cause);
        this.domainName = domainName;
        this.errorCode = errorCode;
    }

    /** The action of a failed {@link DomainCloner#connect}: whatever the code, the URI or the daemon is at fault. */
    static final String OPENING = "opening a connection";

    /**
     * Builds the exception for a failed libvirt call.
     *
     * @param action what was being done, for example {@code "defining"}
     * @param domainName the domain concerned, or null
     * @param uri the connection's URI, or null when unknown
     */
    public static LibvirtFailureException of(String action, String domainName, String uri, LibvirtException e) {
        String code = codeOf(e);
        StringBuilder m = new StringBuilder("libvirt failed ").append(action);
        if (domainName != null) {
            m.append(" domain '").append(domainName).append('\'');
        }
        if (uri != null) {
            m.append(" on ").append(uri);
        }
        m.append(": ").append(e.getMessage());
        if (code != null) {
            m.append(" (").append(code).append(')');
        }
        m.append("; ").append(action.equals(OPENING) ? "check the connection URI (a test:/// URI names a file that must "
                + "exist and parse) and that the libvirt daemon runs (systemctl status libvirtd)" : hint(code, domainName));
        return new LibvirtFailureException(m.toString(), domainName, code, e);
    }

    /** The domain concerned, or null. */
    public String domainName() {
        return domainName;
    }

    /** libvirt's error number name, for example {@code VIR_ERR_NO_DOMAIN}, or null when unknown. */
    public String errorCode() {
        return errorCode;
    }

    private static String codeOf(LibvirtException e) {
        try {
            return e.getError() == null || e.getError().getCode() == null ? null : e.getError().getCode().name();
        } catch (RuntimeException | LinkageError ignored) {
            return null;
        }
    }

    private static String hint(String code, String domain) {
        String d = domain == null ? "DOMAIN" : domain;
        if (code == null) {
            return "check the libvirt daemon's log (journalctl -u libvirtd or virtqemud) and retry";
        }
        switch (code) {
            case "VIR_ERR_NO_DOMAIN":
                return "check the name with `virsh list --all` and that you are on the right connection";
            case "VIR_ERR_XML_ERROR":
            case "VIR_ERR_XML_DETAIL":
            case "VIR_ERR_CONFIG_UNSUPPORTED":
            case "VIR_ERR_INVALID_ARG":
                return "the domain XML was rejected; inspect the source with `virsh dumpxml` and fix the "
                        + "element libvirt names, then clone again";
            case "VIR_ERR_OPERATION_FAILED":
            case "VIR_ERR_DOM_EXIST":
                return "a domain with that name or UUID may already exist (`virsh dominfo " + d
                        + "`); remove it or choose another name pattern";
            case "VIR_ERR_OPERATION_DENIED":
            case "VIR_ERR_AUTH_FAILED":
            case "VIR_ERR_AUTH_CANCELLED":
            case "VIR_ERR_AUTH_UNAVAILABLE":
            case "VIR_ERR_ACCESS_DENIED":
                return "the connection lacks permission; use a privileged URI (qemu:///system) as a member of "
                        + "the libvirt group, or check polkit rules";
            case "VIR_ERR_NO_CONNECT":
            case "VIR_ERR_SYSTEM_ERROR":
            case "VIR_ERR_RPC":
                return "is the libvirt daemon running (systemctl status libvirtd)? check the connection URI";
            default:
                return "check the libvirt daemon's log (journalctl -u libvirtd or virtqemud) and retry";
        }
    }
}
