package dev.keepalive.testkit.http;

import io.netty.channel.Channel;

import java.util.concurrent.CompletableFuture;

/** A connected client of one {@link Protocol}. */
interface ProtocolClient {
    /** The client's connection (to the proxy). */
    Channel channel();

    /**
     * Sends {@code text} as one request (a word: it becomes part of a path). The future completes with the
     * server's answer, or fails if the request cannot be written or the connection ends first; it never completes
     * if the answer is lost on the way.
     */
    CompletableFuture<String> request(String text);
}
