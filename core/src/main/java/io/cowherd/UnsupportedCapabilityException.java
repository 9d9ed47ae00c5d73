package io.cowherd;

/** An operation was asked of a backend that does not declare the matching {@link Capability}. */
public class UnsupportedCapabilityException extends UnsupportedFeatureException {
    private static final long serialVersionUID = 1L;
    private final Capability capability;

    public UnsupportedCapabilityException(String backend, Capability capability) {
        super("backend '" + backend + "' does not support " + capability
                + "; choose a backend that declares it (CowBackend.capabilities)");
        this.capability = capability;
    }

    /** {@code pool} (of {@code backend}, which declares the capability) cannot, for {@code why}. */
    public UnsupportedCapabilityException(String backend, java.nio.file.Path pool, Capability capability, String why) {
        super("pool " + pool + " (backend '" + backend + "') does not support " + capability + ": " + why);
        this.capability = capability;
    }

    /** The capability that was asked for. */
    public Capability capability() {
        return capability;
    }
}
