package dev.keepalive.testkit;

/**
 * The base of every exception the testkit throws on purpose. Unchecked, so test code stays short.
 */
public class TestkitException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the setting or command involved
     */
    public TestkitException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong
     * @param cause the underlying failure
     */
    public TestkitException(String message, Throwable cause) {
        super(message, cause);
    }
}
