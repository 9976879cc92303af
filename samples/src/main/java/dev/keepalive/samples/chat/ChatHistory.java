package dev.keepalive.samples.chat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The last chat lines the server broadcast, numbered 1, 2, 3, ... in its process, so that a client that rejoins
 * gets the lines it missed while its connection was dead. Not thread-safe: the server's event loop owns it.
 */
final class ChatHistory {
    private final int capacity;
    private final ArrayDeque<ChatProtocol.Chat> lines = new ArrayDeque<>();
    private long lastSeq;

    ChatHistory(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, but was " + capacity);
        }
        this.capacity = capacity;
    }

    /** Numbers and keeps a line; returns it. */
    ChatProtocol.Chat append(String name, String text) {
        ChatProtocol.Chat chat = new ChatProtocol.Chat(++lastSeq, name, text);
        lines.addLast(chat);
        if (lines.size() > capacity) {
            lines.removeFirst();
        }
        return chat;
    }

    /** The number of the latest line, 0 before the first. */
    long lastSeq() {
        return lastSeq;
    }

    /** The lines after {@code seq} that are still kept, oldest first. */
    List<ChatProtocol.Chat> after(long seq) {
        List<ChatProtocol.Chat> out = new ArrayList<>();
        for (ChatProtocol.Chat c : lines) {
            if (c.seq() > seq) {
                out.add(c);
            }
        }
        return out;
    }

    /** How many lines after {@code seq} are no longer kept. */
    long forgottenAfter(long seq) {
        long oldest = lines.isEmpty() ? lastSeq + 1 : lines.peekFirst().seq();
        return Math.max(0, oldest - 1 - seq);
    }
}
