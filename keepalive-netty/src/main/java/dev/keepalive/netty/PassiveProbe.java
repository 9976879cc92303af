package dev.keepalive.netty;

import io.netty.buffer.ByteBufAllocator;

/** Never pings and recognises nothing: liveness comes only from the protocol's own inbound traffic. */
final class PassiveProbe implements KeepaliveProbe {
    static final PassiveProbe INSTANCE = new PassiveProbe();

    private PassiveProbe() {
    }

    @Override
    public boolean sendsPings() {
        return false;
    }

    @Override
    public Object newPing(ByteBufAllocator alloc, long pingId) {
        throw new UnsupportedOperationException("the passive probe does not ping");
    }

    @Override
    public Object newPong(ByteBufAllocator alloc, long pingId) {
        throw new UnsupportedOperationException("the passive probe does not answer pings");
    }

    @Override
    public boolean consume(Object msg, Sink sink) {
        return false;
    }

    @Override
    public String toString() {
        return "KeepaliveProbe.passive()";
    }
}
