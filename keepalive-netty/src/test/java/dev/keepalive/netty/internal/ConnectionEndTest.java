package dev.keepalive.netty.internal;

import dev.keepalive.DeadPeerReason;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLException;
import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

class ConnectionEndTest {

    @Test
    void aWriteErrorIsClassifiedAsOnARead() {
        assertEquals(DeadPeerReason.RESET_BY_PEER,
                ConnectionEnd.reason(new IOException("Connection reset by peer"), true, null));
        assertEquals(DeadPeerReason.TCP_TIMEOUT, ConnectionEnd.reason(new IOException("Connection timed out"),
                false, null));
        assertEquals(DeadPeerReason.IO_ERROR, ConnectionEnd.reason(new IOException("Bad file descriptor"),
                false, null));
    }

    @Test
    void withoutAWriteErrorTheEndOfTheStreamIsThePeersClose() {
        assertEquals(DeadPeerReason.CLOSED_BY_PEER, ConnectionEnd.reason(null, true, null));
        assertEquals(DeadPeerReason.CLOSED_BY_PEER, ConnectionEnd.reason(null, true, new SSLException("x")));
    }

    @Test
    void whatCannotBeKnownIsNotBlamedOnThePeer() {
        assertEquals(DeadPeerReason.IO_ERROR, ConnectionEnd.reason(null, false, new SSLException("bad record")));
        assertEquals(DeadPeerReason.CLOSED_LOCALLY, ConnectionEnd.reason(null, false, null));
    }

    @Test
    void theTransportsCloseCauseIsReadOnlyFromAClosedChannel() {
        EmbeddedChannel ch = new EmbeddedChannel();
        try {
            assertNull(ConnectionEnd.transportCloseCause(ch), "open: nothing is written");
            ch.close();
            assertNull(ConnectionEnd.transportCloseCause(ch), "closed without a write error");
        } finally {
            ch.finishAndReleaseAll();
        }
        IOException writeError = new IOException("Broken pipe");
        EmbeddedChannel failing = new EmbeddedChannel() {
            @Override
            protected void doWrite(io.netty.channel.ChannelOutboundBuffer in) throws Exception {
                throw writeError;
            }
        };
        failing.writeAndFlush(io.netty.buffer.Unpooled.buffer(1).writeByte(1));
        assertSame(writeError, ConnectionEnd.transportCloseCause(failing));
        failing.finishAndReleaseAll();
    }
}
