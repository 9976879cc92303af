package dev.keepalive.testkit.http;

import io.netty.channel.Channel;

import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;

/** Requests awaiting their answers on a connection that answers in order (HTTP/1.1, a WebSocket echo). */
final class InOrderAnswers {
    private final Queue<CompletableFuture<String>> pending = new ConcurrentLinkedQueue<>();

    /** Writes {@code request} and returns the future of its answer. */
    CompletableFuture<String> send(Channel ch, Object request) {
        CompletableFuture<String> answer = new CompletableFuture<>();
        pending.add(answer);
        ch.writeAndFlush(request).addListener(f -> {
            if (!f.isSuccess()) {
                pending.remove(answer);
                answer.completeExceptionally(f.cause());
            }
        });
        return answer;
    }

    /** The next answer arrived. Called on the event loop. */
    void answered(String answer) {
        CompletableFuture<String> f = pending.poll();
        if (f != null) {
            f.complete(answer);
        }
    }

    /** The connection ended: no answer will come. Called on the event loop. */
    void failAll(Throwable cause) {
        for (CompletableFuture<String> f; (f = pending.poll()) != null; ) {
            f.completeExceptionally(cause);
        }
    }
}
