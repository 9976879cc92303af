package dev.keepalive.testkit;

/**
 * The {@link KernelFirewallLab} cannot run here: not Linux, not root, {@code ip} or {@code nft} missing, or the
 * kernel refuses namespaces, veth pairs, nftables or conntrack. {@link #reason()} says which, in one sentence that
 * a test report can show as is. {@link FaultLabExtension} turns it into a skipped test, or into a failure when
 * {@code KEEPALIVE_FAULT_LAB=required}.
 */
public final class LabUnavailableException extends TestkitException {
    private static final long serialVersionUID = 1L;

    /** Why the lab cannot run. */
    private final String reason;

    /**
     * @param reason why the lab cannot run, for example
     *     "KernelFirewallLab needs root (effective uid 0); this JVM runs as uid 1000"
     */
    public LabUnavailableException(String reason) {
        super(reason);
        this.reason = reason;
    }

    /**
     * @param reason why the lab cannot run
     * @param cause the failed command, usually a {@link LabCommandException}
     */
    public LabUnavailableException(String reason, Throwable cause) {
        super(reason, cause);
        this.reason = reason;
    }

    /** @return why the lab cannot run */
    public String reason() {
        return reason;
    }
}
