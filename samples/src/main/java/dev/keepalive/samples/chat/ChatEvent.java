package dev.keepalive.samples.chat;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Something that happened to a chat connection, as printed by {@code --events json} (one object per line) or as a
 * line of text.
 *
 * <table>
 *   <caption>Events</caption>
 *   <tr><th>side</th><th>event</th><th>fields besides ts and event</th></tr>
 *   <tr><td>client</td><td>{@code connected}</td><td>name, remote, attempt</td></tr>
 *   <tr><td>client</td><td>{@code peer-dead}</td><td>name, remote, reason, sinceLastInboundMs, missedPings</td></tr>
 *   <tr><td>client</td><td>{@code disconnected}</td><td>name, remote, reason (absent when closed locally)</td></tr>
 *   <tr><td>client</td><td>{@code reconnecting}</td><td>name, remote, attempt, delayMs, reason or error</td></tr>
 *   <tr><td>client</td><td>{@code gave-up}</td><td>name, remote, attempt, error</td></tr>
 *   <tr><td>client</td><td>{@code replaced}</td><td>name, remote: another client joined under this name</td></tr>
 *   <tr><td>client</td><td>{@code undelivered}</td><td>name, count, error: messages given up at exit</td></tr>
 *   <tr><td>server</td><td>{@code listening}</td><td>remote (the bound address)</td></tr>
 *   <tr><td>server</td><td>{@code client-joined}</td><td>name, remote, replaced (true when it took the name over
 *       from a connection still open)</td></tr>
 *   <tr><td>server</td><td>{@code client-dead}</td><td>name (absent before JOIN), remote, reason,
 *       sinceLastInboundMs, missedPings</td></tr>
 *   <tr><td>server</td><td>{@code client-left}</td><td>name, remote, reason (the dead-peer reason, or
 *       CLOSED_BY_PEER) or replacedBy (the remote of the connection that took the name over)</td></tr>
 * </table>
 *
 * @param ts     epoch milliseconds
 * @param type   the event name
 * @param fields the other fields, in output order (values: String, Number or Boolean)
 */
public record ChatEvent(long ts, String type, Map<String, Object> fields) {
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss.SSS")
            .withZone(ZoneId.systemDefault());

    public ChatEvent {
        Objects.requireNonNull(type, "type");
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** A new event of {@code type}, now. */
    static Builder of(String type) {
        return new Builder(System.currentTimeMillis(), type);
    }

    /** {@code host:port} of an address (the literal IP when resolved), or {@code null}. */
    static String address(SocketAddress a) {
        if (!(a instanceof InetSocketAddress)) {
            return a == null ? null : a.toString();
        }
        InetSocketAddress i = (InetSocketAddress) a;
        if (i.getAddress() != null && i.getAddress().isAnyLocalAddress()) {
            return "*:" + i.getPort(); // every interface, IPv4 and IPv6 alike
        }
        String host = i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ':' + i.getPort();
    }

    /** A field's value, or {@code null}. */
    public Object get(String field) {
        return fields.get(field);
    }

    /** A field as a string, or {@code null}. */
    public String string(String field) {
        Object v = fields.get(field);
        return v == null ? null : v.toString();
    }

    /** The event as one JSON object: {@code ts}, {@code event}, then the fields. */
    public String toJson() {
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("ts", ts);
        all.put("event", type);
        all.putAll(fields);
        return Json.object(all);
    }

    /** The event as a line for people: the local time and a sentence. */
    public String toText() {
        return CLOCK.format(Instant.ofEpochMilli(ts)) + "  " + describe();
    }

    /** A sentence about the event, without the time. */
    public String describe() {
        String name = string("name");
        String remote = string("remote");
        String reason = string("reason");
        switch (type) {
            case "connected":
                return "connected to " + remote + " as " + name;
            case "peer-dead":
                return remote + " is dead: " + reason + " (nothing heard for at least " + get("sinceLastInboundMs")
                        + " ms, " + get("missedPings") + " unanswered pings)";
            case "disconnected":
                return "disconnected from " + remote + (reason == null ? "" : " (" + reason + ")");
            case "reconnecting":
                return "reconnecting to " + remote + " in " + get("delayMs") + " ms (attempt " + get("attempt")
                        + (reason != null ? ", after " + reason : string("error") != null ? ", last error: "
                        + string("error") : "") + ")";
            case "gave-up":
                return "gave up reconnecting to " + remote + ": " + string("error");
            case "replaced":
                return "another client joined as " + name + "; this one stops";
            case "undelivered":
                return get("count") + " message(s) not delivered: " + string("error");
            case "listening":
                return "chat server listening on " + remote;
            case "client-joined":
                return (name + " joined from " + remote)
                        + (Boolean.TRUE.equals(get("replaced")) ? " (taking the name over from a connection still "
                        + "open)" : "");
            case "client-dead":
                return (name == null ? "a connection" : name) + " (" + remote + ") is dead: " + reason
                        + " (nothing heard for at least " + get("sinceLastInboundMs") + " ms)";
            case "client-left":
                return name + " (" + remote + ") left" + (reason != null ? " (" + reason + ")"
                        : string("replacedBy") != null ? ": replaced by " + string("replacedBy") : "");
            case "announcement":
                return "* " + string("text");
            default:
                return type + ' ' + fields;
        }
    }

    /** Builds a {@link ChatEvent}; {@code null} values are left out. */
    static final class Builder {
        private final long ts;
        private final String type;
        private final Map<String, Object> fields = new LinkedHashMap<>();

        private Builder(long ts, String type) {
            this.ts = ts;
            this.type = type;
        }

        Builder with(String field, Object value) {
            if (value != null) {
                fields.put(field, value);
            }
            return this;
        }

        ChatEvent build() {
            return new ChatEvent(ts, type, fields);
        }
    }
}
