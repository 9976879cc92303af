package dev.keepalive.samples.chat;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The chat's line protocol: one message per line of UTF-8 text, carried by a resumable session
 * ({@code SessionFraming.lines()}: each line travels as {@code SD <seq> <ack> <line>}, so that every line arrives
 * once and in order across reconnects, and is acknowledged by the session layer), next to the {@code PING <id>} /
 * {@code PONG <id>} lines of {@code KeepaliveProbe.lines()}. Pure parsing and formatting, no I/O.
 *
 * <table>
 *   <caption>Lines</caption>
 *   <tr><th>direction</th><th>line</th><th>meaning</th></tr>
 *   <tr><td>client → server</td><td>{@code JOIN <name> <session> [<epoch>:<seq>]}</td><td>join (or rejoin) under a
 *       name; the session is random per client process; the resume point asks for the chat lines missed since
 *       {@code seq} of server {@code epoch}</td></tr>
 *   <tr><td>client → server</td><td>{@code MSG <id> <text>}</td><td>a chat message; ids start at 1 in each client
 *       process and increase by one (for people: delivery is the session's job)</td></tr>
 *   <tr><td>server → client</td><td>{@code WELCOME <name> <epoch> <seq>}</td><td>joined; the server's epoch (random
 *       per server process) and its latest chat sequence number</td></tr>
 *   <tr><td>server → client</td><td>{@code CHAT <seq> <name> <text>}</td><td>another client's message, numbered by
 *       the server</td></tr>
 *   <tr><td>server → client</td><td>{@code INFO <text>}</td><td>an announcement: joins, leaves (with the dead-peer
 *       reason), missed history</td></tr>
 *   <tr><td>server → client</td><td>{@code BYE <reason>}</td><td>the server closes this connection:
 *       {@code replaced} (the name was taken over by a newer connection) or {@code shutdown}</td></tr>
 *   <tr><td>server → client</td><td>{@code ERROR <text>}</td><td>a line the server could not accept</td></tr>
 * </table>
 *
 * <p>Names are 1..{@value #MAX_NAME_LENGTH} ASCII letters, digits, {@code _}, {@code .} or {@code -}. Texts hold
 * no CR or LF and at most {@value #MAX_TEXT_CODE_POINTS} code points, so that a line stays below
 * {@value #MAX_LINE_BYTES} bytes.
 */
public final class ChatProtocol {
    /** The longest line either side accepts, in bytes. */
    public static final int MAX_LINE_BYTES = 16 * 1024;
    /** The most code points in one message's text (a longer input line is sent as several messages). */
    public static final int MAX_TEXT_CODE_POINTS = 3000;
    /** The longest name. */
    public static final int MAX_NAME_LENGTH = 32;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1," + MAX_NAME_LENGTH + "}");
    private static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9]{1,32}");

    private ChatProtocol() {
    }

    /** A line from a client. */
    public sealed interface ClientMessage permits Join, Msg {
    }

    /** A line from the server. */
    public sealed interface ServerMessage permits Welcome, Chat, Info, Bye, Rejected {
    }

    /**
     * {@code JOIN <name> <session> [<epoch>:<seq>]}.
     *
     * @param resume where the client left off, or {@code null} on its first join
     */
    public record Join(String name, String session, Resume resume) implements ClientMessage {
        public Join {
            requireName(name);
            requireToken("session", session);
        }
    }

    /** The last chat line a client saw: {@code seq} of the server process {@code epoch}. */
    public record Resume(String epoch, long seq) {
        public Resume {
            requireToken("epoch", epoch);
            requireNonNegative("seq", seq);
        }
    }

    /** {@code MSG <id> <text>}. */
    public record Msg(long id, String text) implements ClientMessage {
        public Msg {
            if (id < 1) {
                throw new IllegalArgumentException("id must be >= 1, but was " + id);
            }
            requireText(text);
        }
    }

    /** {@code WELCOME <name> <epoch> <seq>}. */
    public record Welcome(String name, String epoch, long seq) implements ServerMessage {
        public Welcome {
            requireName(name);
            requireToken("epoch", epoch);
            requireNonNegative("seq", seq);
        }
    }

    /** {@code CHAT <seq> <name> <text>}. */
    public record Chat(long seq, String name, String text) implements ServerMessage {
        public Chat {
            if (seq < 1) {
                throw new IllegalArgumentException("seq must be >= 1, but was " + seq);
            }
            requireName(name);
            requireText(text);
        }
    }

    /** {@code INFO <text>}. */
    public record Info(String text) implements ServerMessage {
        public Info {
            requireText(text);
        }
    }

    /** {@code BYE <reason>}. */
    public record Bye(String reason) implements ServerMessage {
        /** The name was taken over by a newer connection. */
        public static final String REPLACED = "replaced";
        /** The server is shutting down. */
        public static final String SHUTDOWN = "shutdown";

        public Bye {
            requireToken("reason", reason);
        }
    }

    /** {@code ERROR <text>}. */
    public record Rejected(String text) implements ServerMessage {
        public Rejected {
            requireText(text);
        }
    }

    /** A line that is not a valid message of the protocol. */
    public static final class MalformedLineException extends Exception {
        private static final long serialVersionUID = 1L;

        MalformedLineException(String message) {
            super(message);
        }
    }

    // ---- formatting ------------------------------------------------------------------------------------------

    /** The line for {@code m}, without its line end. */
    public static String format(ClientMessage m) {
        if (m instanceof Join) {
            Join j = (Join) m;
            return "JOIN " + j.name() + ' ' + j.session()
                    + (j.resume() == null ? "" : " " + j.resume().epoch() + ':' + j.resume().seq());
        }
        Msg msg = (Msg) m;
        return "MSG " + msg.id() + ' ' + msg.text();
    }

    /** The line for {@code m}, without its line end. */
    public static String format(ServerMessage m) {
        if (m instanceof Welcome) {
            Welcome w = (Welcome) m;
            return "WELCOME " + w.name() + ' ' + w.epoch() + ' ' + w.seq();
        }
        if (m instanceof Chat) {
            Chat c = (Chat) m;
            return "CHAT " + c.seq() + ' ' + c.name() + ' ' + c.text();
        }
        if (m instanceof Info) {
            return "INFO " + ((Info) m).text();
        }
        if (m instanceof Bye) {
            return "BYE " + ((Bye) m).reason();
        }
        return "ERROR " + ((Rejected) m).text();
    }

    // ---- parsing ---------------------------------------------------------------------------------------------

    /** Parses a line from a client (without its line end). */
    public static ClientMessage parseClientLine(String line) throws MalformedLineException {
        Objects.requireNonNull(line, "line");
        if (line.startsWith("MSG ")) {
            int space = line.indexOf(' ', 4);
            long id = number("message id", space < 0 ? line.substring(4) : line.substring(4, space), line);
            if (id < 1) {
                throw new MalformedLineException("message id must be >= 1 in \"" + shorten(line) + '"');
            }
            return new Msg(id, text(space < 0 ? "" : line.substring(space + 1), line));
        }
        if (line.startsWith("JOIN ")) {
            String[] parts = line.substring(5).split(" ", -1);
            if (parts.length < 2 || parts.length > 3) {
                throw new MalformedLineException("expected JOIN <name> <session> [<epoch>:<seq>], but got \""
                        + shorten(line) + '"');
            }
            if (!isValidName(parts[0])) {
                throw new MalformedLineException(nameRule(parts[0]));
            }
            if (!TOKEN.matcher(parts[1]).matches()) {
                throw new MalformedLineException("session must be 1..32 ASCII letters or digits, but was \""
                        + shorten(parts[1]) + '"');
            }
            Resume resume = null;
            if (parts.length == 3) {
                int colon = parts[2].indexOf(':');
                String epoch = colon < 0 ? "" : parts[2].substring(0, colon);
                if (colon < 0 || !TOKEN.matcher(epoch).matches()) {
                    throw new MalformedLineException("resume point must be <epoch>:<seq>, but was \""
                            + shorten(parts[2]) + '"');
                }
                resume = new Resume(epoch, number("resume seq", parts[2].substring(colon + 1), line));
            }
            return new Join(parts[0], parts[1], resume);
        }
        throw new MalformedLineException("unknown command in \"" + shorten(line) + "\" (expected JOIN or MSG)");
    }

    /** Parses a line from the server (without its line end). */
    public static ServerMessage parseServerLine(String line) throws MalformedLineException {
        Objects.requireNonNull(line, "line");
        if (line.startsWith("CHAT ")) {
            String[] parts = line.split(" ", 4);
            if (parts.length < 3) {
                throw new MalformedLineException("expected CHAT <seq> <name> <text>, but got \"" + shorten(line)
                        + '"');
            }
            long seq = number("chat seq", parts[1], line);
            if (seq < 1 || !isValidName(parts[2])) {
                throw new MalformedLineException("bad seq or name in \"" + shorten(line) + '"');
            }
            return new Chat(seq, parts[2], text(parts.length == 4 ? parts[3] : "", line));
        }
        if (line.startsWith("INFO ")) {
            return new Info(text(line.substring(5), line));
        }
        if (line.startsWith("WELCOME ")) {
            String[] parts = line.split(" ", -1);
            if (parts.length != 4 || !isValidName(parts[1]) || !TOKEN.matcher(parts[2]).matches()) {
                throw new MalformedLineException("expected WELCOME <name> <epoch> <seq>, but got \""
                        + shorten(line) + '"');
            }
            return new Welcome(parts[1], parts[2], number("welcome seq", parts[3], line));
        }
        if (line.startsWith("BYE ")) {
            String reason = line.substring(4);
            if (!TOKEN.matcher(reason).matches()) {
                throw new MalformedLineException("bad BYE reason in \"" + shorten(line) + '"');
            }
            return new Bye(reason);
        }
        if (line.startsWith("ERROR ")) {
            return new Rejected(text(line.substring(6), line));
        }
        throw new MalformedLineException("unknown server line \"" + shorten(line) + '"');
    }

    /** Whether {@code name} follows the name rule. */
    public static boolean isValidName(String name) {
        return name != null && NAME.matcher(name).matches();
    }

    /** The name rule, as a message about {@code name}. */
    public static String nameRule(String name) {
        return "name must be 1.." + MAX_NAME_LENGTH + " ASCII letters, digits, '_', '.' or '-', but was '"
                + shorten(String.valueOf(name)) + "'";
    }

    /** Whether {@code text} can travel in one message. */
    public static boolean isValidText(String text) {
        return text != null && text.indexOf('\n') < 0 && text.indexOf('\r') < 0
                && text.codePointCount(0, text.length()) <= MAX_TEXT_CODE_POINTS;
    }

    private static long number(String what, String s, String line) throws MalformedLineException {
        if (s.isEmpty() || s.length() > 18) {
            throw new MalformedLineException(what + " must be a number in \"" + shorten(line) + '"');
        }
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                throw new MalformedLineException(what + " must be a number in \"" + shorten(line) + '"');
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    private static String text(String text, String line) throws MalformedLineException {
        if (!isValidText(text)) {
            throw new MalformedLineException("text longer than " + MAX_TEXT_CODE_POINTS + " code points in \""
                    + shorten(line) + '"');
        }
        return text;
    }

    private static void requireName(String name) {
        if (!isValidName(name)) {
            throw new IllegalArgumentException(nameRule(name));
        }
    }

    private static void requireToken(String what, String token) {
        if (token == null || !TOKEN.matcher(token).matches()) {
            throw new IllegalArgumentException(what + " must be 1..32 ASCII letters or digits, but was '" + token
                    + "'");
        }
    }

    private static void requireNonNegative(String what, long n) {
        if (n < 0) {
            throw new IllegalArgumentException(what + " must be >= 0, but was " + n);
        }
    }

    private static void requireText(String text) {
        if (!isValidText(text)) {
            throw new IllegalArgumentException("text must hold no CR or LF and at most " + MAX_TEXT_CODE_POINTS
                    + " code points");
        }
    }

    private static String shorten(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
