package dev.keepalive.session;

/**
 * Counters of a client session or of a server's sessions, since it was created.
 *
 * @param started         sessions established new
 * @param resumed         resumes over a new connection
 * @param resentMessages  messages re-sent on resumes
 * @param resentBytes     their payload bytes
 * @param duplicates      inbound messages dropped because they had been delivered before
 * @param expired         sessions that expired (told by the server, or forgotten by it)
 * @param protocolErrors  frames that broke the protocol (counted and dropped, or the connection closed)
 * @param unackedMessages messages kept unacknowledged now (attached and, on a server, detached sessions)
 * @param unackedBytes    their payload bytes
 * @param peakUnackedBytes the most payload bytes one session kept unacknowledged at once
 */
public record SessionStats(long started, long resumed, long resentMessages, long resentBytes, long duplicates,
                           long expired, long protocolErrors, long unackedMessages, long unackedBytes,
                           long peakUnackedBytes) {
}
