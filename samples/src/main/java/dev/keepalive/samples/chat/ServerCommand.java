package dev.keepalive.samples.chat;

import dev.keepalive.KeepaliveSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.net.InetSocketAddress;
import java.util.concurrent.Callable;

/** {@code keepalive-chat server --port P [--host H]}. */
@Command(name = "server", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run a chat server.", "",
                "It prints every chat message it accepts on stdout as '<name>: <text>', and connection events on "
                        + "stderr. It finds dead clients within its keepalive bound and evicts them; a client that "
                        + "rejoins under a name whose old connection is still open (half-open) takes the name over. "
                        + "Stop it with Ctrl-C.", ""})
final class ServerCommand implements Callable<Integer> {
    private final ChatCli cli;

    @Spec
    CommandSpec spec;

    @Option(names = "--port", required = true, paramLabel = "PORT",
            description = "Port to listen on (0: any free port, shown in the 'listening' event).")
    int port;

    @Option(names = "--host", paramLabel = "HOST", defaultValue = "0.0.0.0",
            description = "Address to listen on (default ${DEFAULT-VALUE}: every interface).")
    String host;

    @Option(names = "--events", paramLabel = "FORMAT", defaultValue = "text",
            description = "How to print events on stderr: text or json (one JSON object per line).")
    ChatCli.EventFormat events;

    @Mixin
    KeepaliveOptions keepalive;

    ServerCommand(ChatCli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535) {
            throw new ParameterException(spec.commandLine(), "--port must be in 0..65535, but was " + port);
        }
        KeepaliveSettings settings = keepalive.settings();
        keepalive.policy(); // a server does not reconnect, but bad values are still errors
        InetSocketAddress bind = new InetSocketAddress(host, port);
        if (bind.isUnresolved()) {
            throw new ParameterException(spec.commandLine(), "--host '" + host + "' cannot be resolved");
        }
        ChatCli.EventPrinter printer = new ChatCli.EventPrinter(events, cli.err);
        ChatServer server = ChatServer.start(new ChatServer.Config(bind, settings, keepalive.connectTimeout()),
                new ChatServer.Listener() {
                    @Override
                    public void accepted(String name, String text) {
                        cli.out.println(name + ": " + text);
                        cli.out.flush();
                    }

                    @Override
                    public void event(ChatEvent event) {
                        printer.event(event);
                    }
                });
        try {
            printer.note("keepalive: " + KeepaliveOptions.summary(settings) + " (stop with Ctrl-C)");
            cli.stopRequested.join();
            return 0;
        } finally {
            server.close();
        }
    }
}
