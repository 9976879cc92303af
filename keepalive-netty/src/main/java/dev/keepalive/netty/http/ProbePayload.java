package dev.keepalive.netty.http;

/**
 * The 8 bytes that WebSocket and HTTP/2 pings carry: the marker {@code "KA"} in the two high bytes and the ping id in
 * the six low bytes, so that the probe's pongs are told apart from those of the application's own pings.
 */
final class ProbePayload {
    /** The ASCII bytes {@code "KA"}, as in the binary probe. */
    static final long MARKER = 0x4B41L << 48;
    private static final long MARKER_MASK = 0xFFFFL << 48;
    private static final long ID_MASK = ~MARKER_MASK;

    private ProbePayload() {
    }

    /** The payload of ping {@code id}; ids wrap after 2^48 (about 900 years at ten pings a second). */
    static long encode(long id) {
        return MARKER | (id & ID_MASK);
    }

    /** Whether {@code payload} was written by {@link #encode}. */
    static boolean isProbe(long payload) {
        return (payload & MARKER_MASK) == MARKER;
    }

    /** The ping id in a payload written by {@link #encode}. */
    static long id(long payload) {
        return payload & ID_MASK;
    }
}
