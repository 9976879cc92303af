package dev.keepalive.samples.chat;

import ch.qos.logback.classic.Level;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.TypeConversionException;

import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The {@code keepalive-chat} command line: {@code server}, {@code client} and {@code demo}. Runs in-process with
 * the streams it is given, so tests drive it exactly as a shell would; {@link #run} returns the exit code (0 done,
 * 1 failed, 2 bad flags or values, with a one-line error naming the flag).
 */
@Command(name = "keepalive-chat", mixinStandardHelpOptions = true, version = "keepalive-chat 0.1.0-SNAPSHOT",
        synopsisSubcommandLabel = "(server | client | demo)",
        description = {"A chat over plain TCP that survives stateful firewalls: keepalive pings, dead peers found "
                + "within a bound, reconnects without losing a message. Durations are written like 500ms, 2s, 1m.",
                ""},
        footer = {"", "Start with: java -jar keepalive-chat.jar demo"})
public final class ChatCli implements Callable<Integer> {
    /** Exit code for bad flags or values. */
    public static final int USAGE = 2;

    final InputStream in;
    final PrintStream out;
    final PrintStream err;
    final CompletableFuture<Void> stopRequested = new CompletableFuture<>();
    private final CountDownLatch finished = new CountDownLatch(1);

    /** A command line reading {@code in} and printing to {@code out} and {@code err}. Run it once. */
    public ChatCli(InputStream in, PrintStream out, PrintStream err) {
        this.in = Objects.requireNonNull(in, "in");
        this.out = Objects.requireNonNull(out, "out");
        this.err = Objects.requireNonNull(err, "err");
    }

    /** Runs the command {@code args} names and returns its exit code. */
    public int run(String... args) {
        try {
            CommandLine cl = new CommandLine(this);
            cl.addSubcommand("server", new ServerCommand(this));
            cl.addSubcommand("client", new ClientCommand(this));
            cl.addSubcommand("demo", new DemoCommand(this));
            converters(cl); // after the subcommands, so that they apply to the whole hierarchy
            cl.setOut(new PrintWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), true));
            cl.setErr(new PrintWriter(new OutputStreamWriter(err, StandardCharsets.UTF_8), true));
            cl.setParameterExceptionHandler(this::badUsage);
            cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
                err.println(commandLine.getCommandSpec().qualifiedName() + ": " + oneLine(String.valueOf(
                        e.getMessage() != null ? e.getMessage() : e)));
                return 1;
            });
            return cl.execute(args);
        } finally {
            finished.countDown();
        }
    }

    /**
     * Asks a running {@code server} or {@code client} to stop (as Ctrl-C does) and waits up to 5 s for it to
     * finish.
     */
    public void stop() {
        stopRequested.complete(null);
        try {
            finished.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public Integer call() {
        err.println("keepalive-chat: a command is missing: server, client or demo (try --help)");
        return USAGE;
    }

    private int badUsage(ParameterException e, String[] args) {
        err.println(e.getCommandLine().getCommandSpec().qualifiedName() + ": " + oneLine(e.getMessage())
                + " (try --help)");
        return USAGE;
    }

    private static String oneLine(String s) {
        return s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    }

    /** Registers the converters of durations and of {@code --tcp-keepalive} on {@code cl} and its subcommands. */
    static CommandLine converters(CommandLine cl) {
        return cl.registerConverter(Duration.class, ChatCli::duration)
                .registerConverter(KeepaliveOptions.TcpKeepalive.class, ChatCli::tcpKeepalive);
    }

    private static Duration duration(String s) {
        try {
            return Durations.parse(s);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    private static KeepaliveOptions.TcpKeepalive tcpKeepalive(String s) {
        try {
            return KeepaliveOptions.TcpKeepalive.parse(s);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    /**
     * With {@code --events json}, stderr carries only JSON lines: the library's warnings (such as the one about
     * TCP_USER_TIMEOUT on NIO) are left out; errors would still be printed. Netty's own loggers are left alone, so
     * that its leak detector keeps reporting.
     */
    static void quietLibraryLogs() {
        org.slf4j.Logger library = LoggerFactory.getLogger("dev.keepalive");
        if (library instanceof ch.qos.logback.classic.Logger) {
            ((ch.qos.logback.classic.Logger) library).setLevel(Level.ERROR);
        }
    }

    /** How events are printed on stderr. */
    enum EventFormat {
        /** One line per event for people, with the local time; announcements too. */
        text,
        /** One JSON object per line, nothing else. */
        json
    }

    /** Prints events and notes on stderr in the chosen format. */
    static final class EventPrinter {
        private final EventFormat format;
        private final PrintStream err;

        EventPrinter(EventFormat format, PrintStream err) {
            this.format = format;
            this.err = err;
            if (format == EventFormat.json) {
                quietLibraryLogs();
            }
        }

        void event(ChatEvent e) {
            err.println(format == EventFormat.json ? e.toJson() : e.toText());
        }

        /** A server announcement ("alice is back"): "* text" for people, an {@code announcement} event in JSON. */
        void announce(String text) {
            if (format == EventFormat.json) {
                err.println(ChatEvent.of("announcement").with("text", text).build().toJson());
            } else {
                err.println("* " + text);
            }
        }

        /** A line for people; left out in JSON mode. */
        void note(String text) {
            if (format == EventFormat.text) {
                err.println(text);
            }
        }
    }
}
