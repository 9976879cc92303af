package dev.keepalive.netty;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.internal.TransportTcpOptions;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Applies the kernel side of {@link KeepaliveSettings} to a connected TCP channel and reads back what is in force.
 *
 * <table>
 *   <caption>Which transport sets what</caption>
 *   <tr><th>option</th><th>epoll</th><th>io_uring</th><th>NIO (Java 17)</th><th>kqueue</th></tr>
 *   <tr><td>SO_KEEPALIVE</td><td>yes</td><td>yes</td><td>yes</td><td>yes</td></tr>
 *   <tr><td>TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT</td><td>yes</td><td>yes</td><td>yes
 *       ({@code jdk.net.ExtendedSocketOptions})</td><td>no</td></tr>
 *   <tr><td>TCP_USER_TIMEOUT</td><td>yes</td><td>yes</td><td>no</td><td>no</td></tr>
 * </table>
 *
 * <p>An option the transport cannot set is reported once per transport and option with a WARN that names both,
 * and listed in {@link EffectiveTcpOptions#unsupported()}; it is never skipped silently. Where TCP_USER_TIMEOUT
 * cannot be set, the application pings of {@link KeepaliveHandler} still find a peer that stops acknowledging data,
 * within the idle detection bound. Channels that are not TCP sockets (embedded, local) are left alone.
 */
public final class TcpKeepaliveOptions {
    private static final Logger log = LoggerFactory.getLogger(TcpKeepaliveOptions.class);
    private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();

    /**
     * Options read back recently, direct-mapped by hash: connections on which the same options are in force share
     * one instance (bounded; a race only makes one more).
     */
    private static final AtomicReferenceArray<EffectiveTcpOptions> RECENT = new AtomicReferenceArray<>(16);

    private TcpKeepaliveOptions() {
    }

    /** {@code options}, or an equal instance read back before ({@code null} stays {@code null}). */
    static EffectiveTcpOptions intern(EffectiveTcpOptions options) {
        if (options == null) {
            return null;
        }
        int hash = options.hashCode();
        int slot = (hash ^ hash >>> 16) & (RECENT.length() - 1);
        EffectiveTcpOptions recent = RECENT.get(slot);
        if (options.equals(recent)) {
            return recent;
        }
        RECENT.set(slot, options);
        return options;
    }

    /**
     * Sets SO_KEEPALIVE, and with it TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT, and TCP_USER_TIMEOUT (unless it is
     * zero) on {@code channel}, then reads them back.
     *
     * @return what is in force, or {@code null} when the channel is not a TCP socket
     */
    public static EffectiveTcpOptions apply(Channel channel, KeepaliveSettings settings) {
        TransportTcpOptions t = TransportTcpOptions.of(channel);
        if (t == null) {
            return null;
        }
        List<String> unsupported = new ArrayList<>();
        ChannelConfig config = channel.config();
        set(config, t, "SO_KEEPALIVE", ChannelOption.SO_KEEPALIVE, settings.tcpKeepAlive(), unsupported);
        if (settings.tcpKeepAlive()) {
            set(config, t, "TCP_KEEPIDLE", t.keepIdle(), (int) settings.tcpKeepIdle().getSeconds(), unsupported);
            set(config, t, "TCP_KEEPINTVL", t.keepInterval(), (int) settings.tcpKeepInterval().getSeconds(),
                    unsupported);
            set(config, t, "TCP_KEEPCNT", t.keepCount(), settings.tcpKeepCount(), unsupported);
        }
        if (!settings.tcpUserTimeout().isZero()) {
            set(config, t, "TCP_USER_TIMEOUT", t.userTimeout(), (int) settings.tcpUserTimeout().toMillis(),
                    unsupported);
        }
        return read(channel, t, unsupported);
    }

    /** Reads the TCP keepalive options in force on {@code channel}, or returns {@code null} for a non-TCP channel. */
    public static EffectiveTcpOptions read(Channel channel) {
        TransportTcpOptions t = TransportTcpOptions.of(channel);
        return t == null ? null : read(channel, t, List.of());
    }

    private static EffectiveTcpOptions read(Channel channel, TransportTcpOptions t, List<String> unsupported) {
        ChannelConfig config = channel.config();
        Boolean keepAlive = get(config, ChannelOption.SO_KEEPALIVE);
        return new EffectiveTcpOptions(t.name(), keepAlive != null && keepAlive, getInt(config, t.keepIdle()),
                getInt(config, t.keepInterval()), getInt(config, t.keepCount()), getInt(config, t.userTimeout()),
                unsupported);
    }

    private static <T> void set(ChannelConfig config, TransportTcpOptions t, String name, ChannelOption<T> option,
                                T value, List<String> unsupported) {
        if (option == null) {
            unsupported.add(name);
            warnOnce(t, name, t.unsupportedHint(name));
            return;
        }
        try {
            if (config.setOption(option, value)) {
                return;
            }
            unsupported.add(name);
            warnOnce(t, name, "the channel refused it");
        } catch (RuntimeException e) {
            unsupported.add(name);
            warnOnce(t, name, e.toString());
        }
    }

    private static void warnOnce(TransportTcpOptions t, String option, String why) {
        if (WARNED.add(t.name() + '/' + option)) {
            log.warn("{} cannot be set on the {} transport ({}); keepalive relies on application probes for it. "
                    + "Reported once per transport and option.", option, t.name(), why);
        }
    }

    private static <T> T get(ChannelConfig config, ChannelOption<T> option) {
        if (option == null) {
            return null;
        }
        try {
            return config.getOption(option);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static int getInt(ChannelConfig config, ChannelOption<Integer> option) {
        Integer v = get(config, option);
        return v == null ? -1 : v;
    }
}
