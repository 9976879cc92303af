package dev.keepalive.samples.chat;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code keepalive-chat demo}. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"See it work: a server, an emulated firewall and three clients, in one process.", "",
                "A chat server behind an emulated stateful firewall that forgets flows idle for 2 s, and three "
                        + "clients: one that pings often enough, one with --no-keepalive, and one that pings too "
                        + "rarely but finds the dead flow and reconnects. Prints a timeline and a summary in about "
                        + "15 s; exits 1 if anything did not happen as expected.", ""})
final class DemoCommand implements Callable<Integer> {
    private final ChatCli cli;

    DemoCommand(ChatCli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws Exception {
        return new ChatDemo(cli.out).run();
    }
}
