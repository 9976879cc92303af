package dev.keepalive.reconnect;

import java.io.IOException;

/** A queued send waited longer than the queue's maximum time without a connection to go out on. */
public class WriteExpiredException extends IOException {
    private static final long serialVersionUID = 1L;

    public WriteExpiredException(String message) {
        super(message);
    }
}
