package dev.keepalive.samples.chat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line's contract: bad flags and values end with one line naming the flag, and exit code 2. */
class ChatCliTest {
    private record Result(int code, String out, String err) {
    }

    private static Result run(String... args) {
        Captured out = new Captured();
        Captured err = new Captured();
        int code = new ChatCli(new ByteArrayInputStream(new byte[0]), out.stream, err.stream).run(args);
        return new Result(code, out.text(), err.text());
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "client --port 7000                                             | --name",
            "client --name alice                                            | --port",
            "client --port 7000 --name alice --bogus                        | --bogus",
            "client --port x --name alice                                   | --port",
            "client --port 0 --name alice                                   | --port",
            "client --port 65536 --name alice                               | --port",
            "client --port 7000 --name a/b                                  | --name",
            "client --port 7000 --name alice --ping-interval 5x             | --ping-interval",
            "client --port 7000 --name alice --ping-interval 5              | --ping-interval",
            "client --port 7000 --name alice --ping-interval -1s            | --ping-interval",
            "client --port 7000 --name alice --ping-interval 0s             | --ping-interval",
            "client --port 7000 --name alice --ping-timeout 0               | --ping-timeout",
            "client --port 7000 --name alice --ping-jitter 0.6              | --ping-jitter",
            "client --port 7000 --name alice --ping-jitter -0.1             | --ping-jitter",
            "client --port 7000 --name alice --ping-jitter lots             | --ping-jitter",
            "client --port 7000 --name alice --no-keepalive --ping-jitter 0 | --ping-jitter",
            "client --port 7000 --name alice --tcp-keepalive 30s,5s         | --tcp-keepalive",
            "client --port 7000 --name alice --tcp-keepalive 30s,5s,x       | --tcp-keepalive",
            "client --port 7000 --name alice --tcp-keepalive 30s,500ms,4    | --tcp-keepalive",
            "client --port 7000 --name alice --tcp-keepalive 30s,5s,200     | --tcp-keepalive",
            "client --port 7000 --name alice --tcp-user-timeout 1.0001s     | --tcp-user-timeout",
            "client --port 7000 --name alice --tcp-user-timeout soon        | --tcp-user-timeout",
            "client --port 7000 --name alice --connect-timeout 0            | --connect-timeout",
            "client --port 7000 --name alice --connect-timeout 11m          | --connect-timeout",
            "client --port 7000 --name alice --reconnect-initial 0          | --reconnect-initial",
            "client --port 7000 --name alice --reconnect-initial 500us      | --reconnect-initial",
            "client --port 7000 --name alice --reconnect-initial 2s --reconnect-max 1s | --reconnect-max",
            "client --port 7000 --name alice --no-keepalive --ping-interval 2s | --no-keepalive",
            "client --port 7000 --name alice --no-keepalive --tcp-keepalive 1,1,1 | --tcp-keepalive",
            "client --port 7000 --name alice --events xml                   | --events",
            "client --port 7000 --name alice --drain-timeout forever        | --drain-timeout",
            "client --port 7000 --name alice --give-up-after 0              | --give-up-after",
            "server                                                         | --port",
            "server --port -1                                               | --port",
            "server --port 99999                                            | --port",
            "server --port 7000 --ping-interval 1y                          | --ping-interval",
            "server --port 7000 --ping-timeout 0s                           | --ping-timeout",
            "server --port 7000 --reconnect-max 0                           | --reconnect-max",
            "server --port 7000 --events yaml                               | --events",
            "server --port 7000 --name alice                                | --name",
    })
    void badFlagsEndWithOneLineNamingTheFlagAndExitCode2(String args, String flag) {
        Result r = run(args.trim().split("\\s+"));
        assertEquals(2, r.code(), r.err());
        assertEquals("", r.out(), "nothing on stdout");
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), "one line: " + r.err());
        String line = lines.get(0);
        assertTrue(line.startsWith("keepalive-chat " + args.trim().split(" ")[0] + ": "), line);
        assertTrue(line.contains(flag), "names " + flag + ": " + line);
    }

    @Test
    void messagesSayWhatIsWrongAndWhatIsExpected() {
        assertEquals("keepalive-chat client: Invalid value for option '--ping-interval': '5x' is not a duration: "
                        + "write a number and a unit (ms, s, m or h), e.g. 500ms, 2s, 1m (try --help)",
                run("client", "--port", "1", "--name", "a", "--ping-interval", "5x").err().strip());
        assertEquals("keepalive-chat client: --ping-interval must be > 0, but was 0 (try --help)",
                run("client", "--port", "1", "--name", "a", "--ping-interval", "0ms").err().strip());
        assertEquals("keepalive-chat server: Invalid value for option '--tcp-keepalive': INTERVAL must be whole "
                        + "seconds in 1..32767, but was '500ms' (try --help)",
                run("server", "--port", "1", "--tcp-keepalive", "30s,500ms,4").err().strip());
        assertEquals("keepalive-chat client: --no-keepalive cannot be combined with --ping-interval, --ping-timeout "
                        + "(try --help)",
                run("client", "--port", "1", "--name", "a", "--no-keepalive", "--ping-interval", "1s",
                        "--ping-timeout", "1s").err().strip());
    }

    @Test
    void noCommandOrAnUnknownOneIsAUsageError() {
        Result none = run();
        assertEquals(2, none.code());
        assertEquals(1, none.err().lines().count(), none.err());
        assertTrue(none.err().contains("server, client or demo"), none.err());
        Result unknown = run("chat");
        assertEquals(2, unknown.code());
        assertEquals(1, unknown.err().lines().count(), unknown.err());
        assertTrue(unknown.err().contains("'chat'"), unknown.err());
    }

    @Test
    void helpGoesToStdoutAndExits0() {
        for (String[] args : List.of(new String[] {"--help"}, new String[] {"client", "--help"},
                new String[] {"server", "--help"}, new String[] {"demo", "--help"})) {
            Result r = run(args);
            assertEquals(0, r.code(), String.join(" ", args));
            assertTrue(r.out().startsWith("Usage: keepalive-chat"), r.out());
            assertEquals("", r.err());
        }
        String client = run("client", "--help").out();
        for (String flag : List.of("--host", "--port", "--name", "--events", "--ping-interval", "--ping-timeout",
                "--ping-jitter", "--tcp-keepalive", "--tcp-user-timeout", "--connect-timeout", "--reconnect-initial",
                "--reconnect-max", "--no-keepalive")) {
            assertTrue(client.contains(flag), flag);
        }
    }

    @Test
    void keepaliveFlagsBecomeSettings() {
        KeepaliveOptions o = ChatDemo.flags("--ping-interval", "2s", "--ping-timeout", "500ms", "--ping-jitter", "0.1",
                "--tcp-keepalive", "10,3s,4", "--tcp-user-timeout", "7s", "--connect-timeout", "1.5s",
                "--reconnect-initial", "50ms", "--reconnect-max", "2s");
        var s = o.settings();
        assertEquals(Duration.ofSeconds(2), s.pingInterval());
        assertEquals(Duration.ofMillis(500), s.pingTimeout());
        assertEquals(0.1, s.pingJitter());
        assertEquals(Duration.ofSeconds(10), s.tcpKeepIdle());
        assertEquals(Duration.ofSeconds(3), s.tcpKeepInterval());
        assertEquals(4, s.tcpKeepCount());
        assertEquals(Duration.ofSeconds(7), s.tcpUserTimeout());
        assertEquals(Duration.ofMillis(1500), o.policy().connectTimeout());
        assertEquals(List.of("--ping-interval 2s", "--ping-timeout 500ms", "--ping-jitter 0.1",
                "--tcp-keepalive 10s,3s,4",
                "--tcp-user-timeout 7s", "--connect-timeout 1500ms", "--reconnect-initial 50ms",
                "--reconnect-max 2s"), o.describe());

        var off = ChatDemo.flags("--no-keepalive").settings();
        assertFalse(off.tcpKeepAlive());
        assertEquals(Duration.ZERO, off.tcpUserTimeout());
        assertTrue(off.pingInterval().compareTo(Duration.ofDays(300)) > 0, "never pings in practice");
        assertEquals("off: no pings, no TCP keepalive (--no-keepalive)", KeepaliveOptions.summary(off));

        var defaults = ChatDemo.flags().settings();
        assertEquals(dev.keepalive.KeepaliveSettings.defaults(), defaults, "no flags: the library's defaults");
    }

    @Test
    void durationsAreWrittenWithAUnit() {
        assertEquals(Duration.ofMillis(500), Durations.parse("500ms"));
        assertEquals(Duration.ofSeconds(2), Durations.parse("2s"));
        assertEquals(Duration.ofMillis(1500), Durations.parse("1.5s"));
        assertEquals(Duration.ofMinutes(1), Durations.parse("1m"));
        assertEquals(Duration.ofHours(2), Durations.parse("2h"));
        assertEquals(Duration.ZERO, Durations.parse("0"));
        assertEquals(Duration.ofSeconds(3), Durations.parse(" 3S "));
        for (String bad : List.of("", "5", "s", "-1s", "1d", "1 s", "1.s", "1e3ms", "ms5")) {
            assertThrows(IllegalArgumentException.class, () -> Durations.parse(bad), bad);
        }
        assertEquals("500ms", Durations.format(Duration.ofMillis(500)));
        assertEquals("1500ms", Durations.format(Duration.ofMillis(1500)));
        assertEquals("90s", Durations.format(Duration.ofSeconds(90)));
        assertEquals("2m", Durations.format(Duration.ofMinutes(2)));
        assertEquals("1h", Durations.format(Duration.ofHours(1)));
        assertEquals("0", Durations.format(Duration.ZERO));
        for (Duration d : List.of(Duration.ofMillis(1), Duration.ofMillis(2500), Duration.ofSeconds(59),
                Duration.ofMinutes(61), Duration.ofDays(3))) {
            assertEquals(d, Durations.parse(Durations.format(d)));
        }
    }

    @Test
    void eventsAreOneJsonObjectPerLine() {
        ChatEvent e = new ChatEvent(1700000000123L, "peer-dead", Map.of("reason", "PING_TIMEOUT"));
        assertEquals("{\"ts\":1700000000123,\"event\":\"peer-dead\",\"reason\":\"PING_TIMEOUT\"}", e.toJson());
        ChatEvent odd = ChatEvent.of("client-left").with("name", "a\"b\\c").with("remote", "x\ny\u0001\u2028")
                .with("attempt", 3).with("delayMs", 250L).with("replaced", true).with("absent", null).build();
        String json = odd.toJson();
        assertTrue(json.matches("\\{\"ts\":\\d+,\"event\":\"client-left\",.*}"), json);
        assertTrue(json.endsWith(",\"name\":\"a\\\"b\\\\c\",\"remote\":\"x\\ny\\u0001\\u2028\",\"attempt\":3,"
                + "\"delayMs\":250,\"replaced\":true}"), json);
        assertFalse(json.contains("\n"));
        assertFalse(json.contains("absent"));
    }
}
