package dev.keepalive.netty;

import java.util.List;

/**
 * The TCP keepalive options in force on one socket, read back from the channel after they were applied.
 *
 * @param transport          the transport's name: {@code "epoll"}, {@code "io_uring"}, {@code "nio"},
 *                           {@code "kqueue"}, or the channel class for others
 * @param soKeepAlive        SO_KEEPALIVE
 * @param keepIdleSeconds    TCP_KEEPIDLE, or -1 when this transport cannot read it
 * @param keepIntervalSeconds TCP_KEEPINTVL, or -1 when this transport cannot read it
 * @param keepCount          TCP_KEEPCNT, or -1 when this transport cannot read it
 * @param userTimeoutMillis  TCP_USER_TIMEOUT, or -1 when this transport cannot read it
 * @param unsupported        the options that were asked for and that this transport could not set
 */
public record EffectiveTcpOptions(String transport, boolean soKeepAlive, int keepIdleSeconds,
                                  int keepIntervalSeconds, int keepCount, int userTimeoutMillis,
                                  List<String> unsupported) {

    /** Copies {@code unsupported}, so that the record stays immutable. */
    public EffectiveTcpOptions {
        unsupported = List.copyOf(unsupported);
    }
}
