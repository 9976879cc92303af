/**
 * Fault injection for tests of long-lived TCP connections.
 *
 * <ul>
 *   <li>{@link dev.keepalive.testkit.FirewallProxy}: a portable loopback proxy that black-holes, forgets idle
 *       flows like a stateful firewall, resets, delays, throttles, pauses and closes connections, per
 *       {@link dev.keepalive.testkit.Flow} or for all, and counts bytes.</li>
 *   <li>{@link dev.keepalive.testkit.KernelFirewallLab}: a real nftables stateful firewall in a network namespace
 *       with a short conntrack timeout, black holes and peer processes (needs root).</li>
 *   <li>{@link dev.keepalive.testkit.FaultLabExtension}: passes both to JUnit tests and closes them; skips or fails
 *       kernel tests per {@code KEEPALIVE_FAULT_LAB}.</li>
 *   <li>{@link dev.keepalive.testkit.EchoServer}: a small echo server for the test JVM or a lab namespace.</li>
 * </ul>
 */
package dev.keepalive.testkit;
