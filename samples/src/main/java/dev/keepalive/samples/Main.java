package dev.keepalive.samples;

import dev.keepalive.samples.chat.ChatCli;

/** Entry point of {@code keepalive-chat.jar}: {@code server}, {@code client} and {@code demo} (see {@link ChatCli}). */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        ChatCli cli = new ChatCli(System.in, System.out, System.err);
        Thread onCtrlC = new Thread(cli::stop, "keepalive-chat-shutdown");
        Runtime.getRuntime().addShutdownHook(onCtrlC); // Ctrl-C: the server says BYE, the client closes cleanly
        int code = cli.run(args);
        try {
            Runtime.getRuntime().removeShutdownHook(onCtrlC);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook is running: it waits for run() to finish, which it just did
        }
        System.exit(code);
    }
}
