package dev.keepalive.samples.chat;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code keepalive-chat} run in-process on a thread of its own, with a typed stdin and captured stdout and stderr. */
final class RunningCli implements AutoCloseable {
    private static final Pattern PORT = Pattern.compile("\"event\":\"listening\",\"remote\":\"[^\"]*:(\\d+)\"");

    final Stdin in = new Stdin();
    final Captured out = new Captured();
    final Captured err = new Captured();
    final ChatCli cli = new ChatCli(in, out.stream, err.stream);
    final CompletableFuture<Integer> exit = new CompletableFuture<>();

    private RunningCli(String... args) {
        Thread t = new Thread(() -> {
            try {
                exit.complete(cli.run(args));
            } catch (Throwable e) {
                exit.completeExceptionally(e);
            }
        }, "cli-" + args[0]);
        t.setDaemon(true);
        t.start();
    }

    static RunningCli start(String... args) {
        return new RunningCli(args);
    }

    /** The port a {@code server --port 0 --events json} listens on, from its {@code listening} event. */
    int serverPort(Duration timeout) throws InterruptedException {
        String line = err.await(l -> PORT.matcher(l).find(), timeout, "the listening event");
        Matcher m = PORT.matcher(line);
        m.find();
        return Integer.parseInt(m.group(1));
    }

    /** Waits for the command to end and returns its exit code. */
    int exitCode(Duration timeout) throws Exception {
        return exit.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Ends stdin and stops the command (as Ctrl-C), waiting for it to finish. */
    @Override
    public void close() {
        in.close();
        cli.stop();
    }
}
