package dev.keepalive.samples.chat;

import org.junit.jupiter.api.Test;

import static dev.keepalive.samples.chat.Deduplicator.Verdict.DUPLICATE;
import static dev.keepalive.samples.chat.Deduplicator.Verdict.NEW;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DeduplicatorTest {
    @Test
    void aReSentMessageIsADuplicate() {
        Deduplicator d = new Deduplicator(10);
        assertEquals(NEW, d.offer("alice", "s1", 1));
        assertEquals(NEW, d.offer("alice", "s1", 2));
        assertEquals(NEW, d.offer("alice", "s1", 3));
        // the connection died before the acks of 2 and 3 arrived: the client re-sends both, then goes on
        assertEquals(DUPLICATE, d.offer("alice", "s1", 2));
        assertEquals(DUPLICATE, d.offer("alice", "s1", 3));
        assertEquals(NEW, d.offer("alice", "s1", 4));
        assertEquals(DUPLICATE, d.offer("alice", "s1", 1));
        assertEquals(4, d.highest("alice", "s1"));
    }

    @Test
    void idsBelongToTheirName() {
        Deduplicator d = new Deduplicator(10);
        assertEquals(NEW, d.offer("alice", "s1", 1));
        assertEquals(NEW, d.offer("bob", "s1", 1), "the same id from someone else is another message");
        assertEquals(DUPLICATE, d.offer("bob", "s1", 1));
    }

    @Test
    void aNewSessionStartsItsIdsAgain() {
        Deduplicator d = new Deduplicator(10);
        assertEquals(NEW, d.offer("alice", "s1", 1));
        assertEquals(NEW, d.offer("alice", "s1", 2));
        assertEquals(NEW, d.offer("alice", "s2", 1), "a restarted client process counts from 1 again");
        assertEquals(DUPLICATE, d.offer("alice", "s2", 1));
        assertEquals(0, d.highest("alice", "s1"));
        assertEquals(1, d.highest("alice", "s2"));
    }

    @Test
    void remembersTheMostRecentlyUsedNamesOnly() {
        Deduplicator d = new Deduplicator(2);
        d.offer("a", "s", 5);
        d.offer("b", "s", 5);
        d.offer("a", "s", 6); // a is used again: b is now the eldest
        d.offer("c", "s", 5);
        assertEquals(6, d.highest("a", "s"));
        assertEquals(0, d.highest("b", "s"), "b was forgotten");
        assertEquals(5, d.highest("c", "s"));
        assertThrows(IllegalArgumentException.class, () -> new Deduplicator(0));
    }
}
