package dev.keepalive.testkit.internal;

import java.util.Locale;
import java.util.Optional;

/** What to do with a test that needs the kernel lab, from {@code KEEPALIVE_FAULT_LAB}. */
public enum FaultLabMode {
    /** Run it if the machine can, else skip it with the reason (unset, empty or {@code auto}). */
    AUTO,
    /** Run it; fail it with the reason if the machine cannot ({@code required}, what CI sets). */
    REQUIRED,
    /** Skip it even if the machine could run it ({@code disabled}). */
    DISABLED;

    /**
     * @param raw the setting's value, may be null
     * @param source where it came from, for the error message (e.g. "environment variable KEEPALIVE_FAULT_LAB")
     * @return the mode
     * @throws IllegalArgumentException if the value is not one of auto, required, disabled
     */
    public static FaultLabMode parse(Optional<String> raw, String source) {
        String v = raw.map(s -> s.strip().toLowerCase(Locale.ROOT)).orElse("");
        switch (v) {
            case "":
            case "auto":
                return AUTO;
            case "required":
                return REQUIRED;
            case "disabled":
                return DISABLED;
            default:
                throw new IllegalArgumentException(source + " must be one of auto, required, disabled, but was '"
                        + raw.orElse("") + "'");
        }
    }
}
