/**
 * The chat sample: a server and clients over plain TCP that stay connected through stateful firewalls, find dead
 * peers on both sides within a bound, reconnect, and lose no chat message.
 *
 * <ul>
 *   <li>{@link dev.keepalive.samples.chat.ChatProtocol}: the line protocol ({@code JOIN}, {@code MSG},
 *       {@code ACK}, {@code CHAT}, {@code INFO}, {@code BYE}, {@code ERROR}), parsing and formatting only;</li>
 *   <li>{@link dev.keepalive.samples.chat.ChatServer}: {@code KeepaliveHandler} on every connection, de-duplication,
 *       half-open name takeover, catch-up on rejoin;</li>
 *   <li>{@link dev.keepalive.samples.chat.ChatClient}: {@code ReconnectingClient} with acknowledgements, so that
 *       every message is delivered exactly once, in order;</li>
 *   <li>{@link dev.keepalive.samples.chat.ChatCli}: the {@code keepalive-chat} command line ({@code server},
 *       {@code client}, {@code demo}).</li>
 * </ul>
 * See {@code samples/README.md}.
 */
package dev.keepalive.samples.chat;
