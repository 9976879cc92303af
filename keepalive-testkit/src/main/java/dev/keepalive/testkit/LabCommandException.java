package dev.keepalive.testkit;

import java.util.List;

/**
 * An external command run by {@link KernelFirewallLab} ({@code ip}, {@code nft}, ...) failed or timed out.
 * The message holds the command line, the exit code and the command's standard error.
 *
 * <pre>{@code
 * catch (LabCommandException e) {
 *     e.command();  // [ip, netns, exec, kalab-4711-0, nft, -f, -]
 *     e.exitCode(); // 1, or -1 if it timed out
 *     e.stderr();   // "Error: syntax error, ..."
 * }
 * }</pre>
 */
public final class LabCommandException extends TestkitException {
    private static final long serialVersionUID = 1L;

    /** The exit code reported when the command did not finish in time. */
    public static final int TIMED_OUT = -1;

    /** The command line. */
    private final List<String> command;
    /** The exit code or {@link #TIMED_OUT}. */
    private final int exitCode;
    /** The standard error output. */
    private final String stderr;

    /**
     * @param command the command line
     * @param exitCode its exit code, or {@link #TIMED_OUT}
     * @param stderr what it wrote to standard error
     */
    public LabCommandException(List<String> command, int exitCode, String stderr) {
        super("command " + String.join(" ", command)
                + (exitCode == TIMED_OUT ? " timed out" : " failed with exit code " + exitCode)
                + (stderr.isBlank() ? "" : ": " + stderr.strip()));
        this.command = List.copyOf(command);
        this.exitCode = exitCode;
        this.stderr = stderr;
    }

    /** @return the command line */
    public List<String> command() {
        return command;
    }

    /** @return the exit code, or {@link #TIMED_OUT} */
    public int exitCode() {
        return exitCode;
    }

    /** @return the command's standard error */
    public String stderr() {
        return stderr;
    }
}
