package dev.keepalive.samples.chat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** Records what a {@link ChatServer} reports, and lets a test wait for an event (woken by each one, bounded). */
final class ServerRecorder implements ChatServer.Listener {
    final List<String> accepted = new ArrayList<>();
    final List<String> duplicates = new ArrayList<>();
    final List<ChatEvent> events = new ArrayList<>();

    @Override
    public synchronized void accepted(String name, String text) {
        accepted.add(name + ": " + text);
        notifyAll();
    }

    @Override
    public synchronized void duplicate(String name, long id) {
        duplicates.add(name + " #" + id);
        notifyAll();
    }

    @Override
    public synchronized void event(ChatEvent event) {
        events.add(event);
        notifyAll();
    }

    synchronized List<String> accepted() {
        return new ArrayList<>(accepted);
    }

    synchronized List<String> duplicates() {
        return new ArrayList<>(duplicates);
    }

    /** Waits for an event of {@code type} matching {@code p}. */
    synchronized ChatEvent await(String type, Predicate<ChatEvent> p, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (ChatEvent e : events) {
                if (e.type().equals(type) && p.test(e)) {
                    return e;
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("no " + type + " event within " + timeout + "; events: " + events);
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    /** Waits until {@code n} messages were accepted. */
    synchronized List<String> awaitAccepted(int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (accepted.size() < n) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError(n + " messages not accepted within " + timeout + ": " + accepted);
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return new ArrayList<>(accepted);
    }

    synchronized List<ChatEvent> events(String type) {
        List<ChatEvent> out = new ArrayList<>();
        for (ChatEvent e : events) {
            if (e.type().equals(type)) {
                out.add(e);
            }
        }
        return out;
    }
}
