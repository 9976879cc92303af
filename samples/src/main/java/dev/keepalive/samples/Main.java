package dev.keepalive.samples;

import java.util.Arrays;

/** Entry point of {@code keepalive-chat.jar}. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) throws Exception {
        String command = args.length == 0 ? "" : args[0];
        String[] rest = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
        switch (command) {
            case "demo":
                System.exit(new Demo().run(rest));
                break;
            default:
                System.err.println("usage: java -jar keepalive-chat.jar demo");
                System.exit(2);
        }
    }
}
