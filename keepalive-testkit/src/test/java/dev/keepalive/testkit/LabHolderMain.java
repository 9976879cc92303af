package dev.keepalive.testkit;

import java.io.IOException;

/**
 * Run in a child JVM by {@link KernelFirewallLabTest}: creates a lab with a process inside, prints
 * {@code READY <namespace> <pid of the process inside>} and waits for end of input (or to be killed).
 */
public final class LabHolderMain {
    private LabHolderMain() {
    }

    public static void main(String[] args) throws IOException {
        KernelFirewallLab lab = KernelFirewallLab.create();
        PeerProcess sleeper = lab.exec("sleep", "300");
        System.out.println("READY " + lab.namespace() + " " + sleeper.pid());
        System.out.flush();
        // Returns at end of input; the test usually kills this JVM first.
        while (System.in.read() >= 0) {
            continue;
        }
    }
}
