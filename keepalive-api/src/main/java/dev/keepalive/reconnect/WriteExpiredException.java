package dev.keepalive.reconnect;

import java.io.IOException;

/**
 * A send waited too long: queued for a connection longer than {@code maxQueueTime}, or written and not confirmed or
 * acknowledged within {@code ackTimeout}. The message names the bound.
 */
public class WriteExpiredException extends IOException {
    private static final long serialVersionUID = 1L;

    /** With the message naming the bound and how long the send waited. */
    public WriteExpiredException(String message) {
        super(message);
    }
}
