package dev.keepalive.testkit;

import java.time.Duration;

/**
 * An {@code await...} method of the testkit gave up: what it waited for did not happen within the timeout.
 *
 * <pre>{@code
 * try {
 *     proxy.awaitFlow(1, Duration.ofSeconds(2));
 * } catch (AwaitTimeoutException e) {
 *     // e.getMessage(): "flow #1 not accepted within PT2S; 1 flow(s) so far"
 * }
 * }</pre>
 */
public final class AwaitTimeoutException extends TestkitException {
    private static final long serialVersionUID = 1L;

    /** How long the caller waited. */
    private final Duration timeout;

    /**
     * @param awaited what was awaited, e.g. "flow #1 not accepted"
     * @param timeout how long the caller waited
     * @param observed what was seen instead, may be empty
     */
    public AwaitTimeoutException(String awaited, Duration timeout, String observed) {
        super(awaited + " within " + timeout + (observed.isEmpty() ? "" : "; " + observed));
        this.timeout = timeout;
    }

    /** @return how long the caller waited */
    public Duration timeout() {
        return timeout;
    }
}
