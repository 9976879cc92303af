package dev.keepalive.samples.chat;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.reconnect.ReconnectPolicy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** {@code keepalive-chat client --host H --port P --name N}. */
@Command(name = "client", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Join a chat: stdin lines are sent, messages from others are printed.", "",
                "Each line of stdin is sent as a chat message; messages from others are printed on stdout as "
                        + "'<name>: <text>'; connection events and announcements go to stderr. It reconnects by "
                        + "itself and delivers every message exactly once, in order. At the end of stdin it waits "
                        + "for the server to acknowledge what is pending (at most --drain-timeout), then exits: 0 "
                        + "when everything was delivered, 1 otherwise.", ""})
final class ClientCommand implements Callable<Integer> {
    private final ChatCli cli;

    @Spec
    CommandSpec spec;

    @Option(names = "--host", paramLabel = "HOST", defaultValue = "localhost",
            description = "The server's host (default ${DEFAULT-VALUE}); resolved again on each attempt.")
    String host;

    @Option(names = "--port", required = true, paramLabel = "PORT", description = "The server's port.")
    int port;

    @Option(names = "--name", required = true, paramLabel = "NAME",
            description = "Your name: 1..32 ASCII letters, digits, '_', '.' or '-'.")
    String name;

    @Option(names = "--events", paramLabel = "FORMAT", defaultValue = "text",
            description = "How to print events on stderr: text or json (one JSON object per line).")
    ChatCli.EventFormat events;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "10s",
            description = "At the end of stdin, how long to wait for pending messages (default ${DEFAULT-VALUE}).")
    Duration drainTimeout;

    @Option(names = "--give-up-after", paramLabel = "DURATION",
            description = "Stop reconnecting after being disconnected this long (default: never).")
    Duration giveUpAfter;

    @Mixin
    KeepaliveOptions keepalive;

    ClientCommand(ChatCli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        if (port < 1 || port > 65535) {
            throw new ParameterException(spec.commandLine(), "--port must be in 1..65535, but was " + port);
        }
        if (!ChatProtocol.isValidName(name)) {
            throw new ParameterException(spec.commandLine(), "--" + ChatProtocol.nameRule(name));
        }
        if (giveUpAfter != null && giveUpAfter.isZero()) {
            throw new ParameterException(spec.commandLine(), "--give-up-after must be > 0, but was 0");
        }
        KeepaliveSettings settings = keepalive.settings();
        ReconnectPolicy policy = keepalive.policy();
        if (giveUpAfter != null) {
            policy = ReconnectPolicy.builder().backoff(policy.backoff()).connectTimeout(policy.connectTimeout())
                    .giveUpAfter(giveUpAfter).build();
        }
        ChatCli.EventPrinter printer = new ChatCli.EventPrinter(events, cli.err);
        ChatClient client = ChatClient.start(new ChatClient.Config(InetSocketAddress.createUnresolved(host, port),
                name, settings, policy), null, new ChatClient.Listener() {
                    @Override
                    public void chat(String from, String text) {
                        cli.out.println(from + ": " + text);
                        cli.out.flush();
                    }

                    @Override
                    public void info(String text) {
                        printer.announce(text);
                    }

                    @Override
                    public void event(ChatEvent event) {
                        printer.event(event);
                    }
                });
        try {
            printer.note("keepalive: " + KeepaliveOptions.summary(settings));
            List<CompletableFuture<Void>> sent = new ArrayList<>();
            CompletableFuture<Void> endOfInput = new CompletableFuture<>();
            Thread reader = new Thread(() -> readLines(client, sent, endOfInput), "keepalive-chat-stdin");
            reader.setDaemon(true);
            reader.start();
            CompletableFuture.anyOf(endOfInput, client.stopped(), cli.stopRequested).join();
            if (client.stopped().isDone()) {
                return 1; // replaced, or gave up: the event says which
            }
            if (!endOfInput.isDone()) {
                return 0; // stopped (Ctrl-C)
            }
            return drain(client, snapshot(sent), printer);
        } finally {
            client.close();
        }
    }

    private void readLines(ChatClient client, List<CompletableFuture<Void>> sent, CompletableFuture<Void> end) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(cli.in, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (!line.isBlank()) {
                    CompletableFuture<Void> f = client.say(line);
                    synchronized (sent) {
                        sent.add(f);
                    }
                }
            }
        } catch (IOException e) {
            cli.err.println("* stdin: " + e.getMessage());
        } finally {
            end.complete(null);
        }
    }

    private static List<CompletableFuture<Void>> snapshot(List<CompletableFuture<Void>> sent) {
        synchronized (sent) {
            return new ArrayList<>(sent);
        }
    }

    /** Waits, at most the drain timeout, for the server to acknowledge every message; 0 when it did. */
    private int drain(ChatClient client, List<CompletableFuture<Void>> sent, ChatCli.EventPrinter printer)
            throws InterruptedException {
        CompletableFuture<Void> all = CompletableFuture.allOf(sent.toArray(new CompletableFuture[0]));
        try {
            CompletableFuture.anyOf(all, client.stopped(), cli.stopRequested)
                    .get(drainTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // counted below
        }
        long undelivered = sent.stream().filter(f -> !f.isDone() || f.isCompletedExceptionally()).count();
        if (undelivered == 0) {
            return 0;
        }
        printer.event(ChatEvent.of("undelivered").with("name", name).with("count", undelivered)
                .with("error", "not acknowledged by the server within --drain-timeout "
                        + Durations.format(drainTimeout)).build());
        return 1;
    }
}
