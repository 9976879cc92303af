package dev.keepalive.testkit;

import java.net.InetSocketAddress;

/**
 * One connection tracking entry of a {@link KernelFirewallLab}'s namespace, as the kernel's stateful firewall sees
 * it. Source and destination are those of the packet that created the entry.
 *
 * <pre>{@code
 * boolean tracked = lab.conntrackEntries().stream()
 *         .anyMatch(e -> e.source().getPort() == clientSocket.getLocalPort());
 * }</pre>
 *
 * @param protocol e.g. {@code tcp}
 * @param secondsLeft seconds until the entry expires unless a packet refreshes it
 * @param state the TCP state, e.g. {@code ESTABLISHED}; empty for other protocols
 * @param source the initiator's address and port
 * @param destination the responder's address and port
 * @param assured whether traffic was seen both ways
 */
public record ConntrackEntry(
        String protocol,
        long secondsLeft,
        String state,
        InetSocketAddress source,
        InetSocketAddress destination,
        boolean assured) {
}
