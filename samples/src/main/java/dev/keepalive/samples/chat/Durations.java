package dev.keepalive.samples.chat;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as the command line writes them: {@code 500ms}, {@code 2s}, {@code 1.5s}, {@code 1m}, {@code 1h}. */
final class Durations {
    private static final Pattern SYNTAX = Pattern.compile("(\\d{1,12}(?:\\.\\d{1,9})?)(ms|s|m|h)");

    private Durations() {
    }

    /**
     * Parses a number and a unit ({@code ms}, {@code s}, {@code m} or {@code h}); {@code 0} alone is zero.
     *
     * @throws IllegalArgumentException naming the value and the syntax
     */
    static Duration parse(String text) {
        String s = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        if (s.equals("0")) {
            return Duration.ZERO;
        }
        Matcher m = SYNTAX.matcher(s);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a duration: write a number and a unit (ms, s, m"
                    + " or h), e.g. 500ms, 2s, 1m");
        }
        BigDecimal amount = new BigDecimal(m.group(1));
        long nanosPerUnit;
        switch (m.group(2)) {
            case "ms":
                nanosPerUnit = 1_000_000L;
                break;
            case "s":
                nanosPerUnit = 1_000_000_000L;
                break;
            case "m":
                nanosPerUnit = 60_000_000_000L;
                break;
            default:
                nanosPerUnit = 3_600_000_000_000L;
        }
        BigDecimal nanos = amount.multiply(BigDecimal.valueOf(nanosPerUnit));
        if (nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException("'" + text + "' is too long a duration");
        }
        return Duration.ofNanos(nanos.longValue());
    }

    /** Writes {@code d} the way {@link #parse} reads it: {@code 500ms}, {@code 2s}, {@code 90s}, {@code 1m}. */
    static String format(Duration d) {
        if (d.isZero()) {
            return "0";
        }
        long ms = d.toMillis();
        if (ms % 1000 != 0 || ms < 1000) {
            return ms + "ms";
        }
        long s = ms / 1000;
        if (s % 3600 == 0) {
            return s / 3600 + "h";
        }
        if (s % 60 == 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }
}
