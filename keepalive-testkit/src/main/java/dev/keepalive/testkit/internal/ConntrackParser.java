package dev.keepalive.testkit.internal;

import dev.keepalive.testkit.ConntrackEntry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Parses the lines of {@code /proc/net/nf_conntrack} and of {@code conntrack -L}, which differ only by a leading
 * {@code ipv4 2}:
 *
 * <pre>
 * ipv4     2 tcp      6 4 ESTABLISHED src=10.247.0.1 dst=10.247.0.2 sport=54974 dport=7000 src=... [ASSURED] ...
 * tcp      6 431999 ESTABLISHED src=10.247.0.1 dst=10.247.0.2 sport=54974 dport=7000 src=... [ASSURED] ...
 * </pre>
 */
public final class ConntrackParser {
    private ConntrackParser() {
    }

    /**
     * @param text lines in either format
     * @return the entries that could be parsed
     */
    public static List<ConntrackEntry> parseAll(String text) {
        List<ConntrackEntry> list = new ArrayList<>();
        for (String line : text.split("\n")) {
            parse(line).ifPresent(list::add);
        }
        return list;
    }

    /**
     * @param line one line
     * @return the entry, empty if the line is not one
     */
    public static Optional<ConntrackEntry> parse(String line) {
        String[] t = line.strip().split("\\s+");
        int i = 0;
        if (t.length > 2 && (t[0].equals("ipv4") || t[0].equals("ipv6"))) {
            i = 2;
        }
        if (t.length < i + 4) {
            return Optional.empty();
        }
        String protocol = t[i];
        long secondsLeft;
        try {
            Integer.parseInt(t[i + 1]);
            secondsLeft = Long.parseLong(t[i + 2]);
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        String state = t[i + 3].contains("=") ? "" : t[i + 3];
        String src = null;
        String dst = null;
        Integer sport = null;
        Integer dport = null;
        boolean assured = false;
        for (int k = i + 3; k < t.length; k++) {
            String tok = t[k];
            if (tok.equals("[ASSURED]")) {
                assured = true;
            } else if (src == null && tok.startsWith("src=")) {
                src = tok.substring(4);
            } else if (dst == null && tok.startsWith("dst=")) {
                dst = tok.substring(4);
            } else if (sport == null && tok.startsWith("sport=")) {
                sport = Integer.parseInt(tok.substring(6));
            } else if (dport == null && tok.startsWith("dport=")) {
                dport = Integer.parseInt(tok.substring(6));
            }
        }
        if (src == null || dst == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ConntrackEntry(protocol, secondsLeft, state,
                    new InetSocketAddress(literal(src), sport == null ? 0 : sport),
                    new InetSocketAddress(literal(dst), dport == null ? 0 : dport),
                    assured));
        } catch (UnknownHostException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static InetAddress literal(String s) throws UnknownHostException {
        if (!s.matches("[0-9a-fA-F:.]+")) {
            throw new UnknownHostException("not an address literal: " + s);
        }
        return InetAddress.getByName(s);
    }
}
