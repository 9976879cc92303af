package dev.keepalive.benchmarks.support;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReportsTest {
    @Test
    void theMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
        assertEquals(2.0, Reports.median(new double[] {3, 1, 2}));
        assertEquals(2.5, Reports.median(new double[] {4, 1, 3, 2}));
    }

    @Test
    void theIntervalOfTheMedianIsBoundedByTheBinomialRanks() {
        // Ranks j and n + 1 - j for the largest j with P(Binomial(n, 1/2) < j) <= 2.5 %: 9 -> 2, 20 -> 6.
        double[] nine = {0.97, 0.93, 1.00, 0.95, 0.99, 0.94, 0.98, 0.96, 0.99};
        assertArrayEquals(new double[] {0.94, 0.99}, Reports.medianInterval(nine), 1e-12);
        double[] twenty = new double[20];
        for (int i = 0; i < 20; i++) {
            twenty[i] = 20 - i; // 1..20, descending
        }
        assertArrayEquals(new double[] {6, 15}, Reports.medianInterval(twenty), 1e-12);
        // Too few values for 95 %: the extremes.
        assertArrayEquals(new double[] {1, 5}, Reports.medianInterval(new double[] {5, 4, 3, 2, 1}), 1e-12);
    }

    @Test
    void aTargetIsMetOrMissedOnlyWhenTheWholeIntervalIsOnOneSide() {
        double[] above = {0.99, 0.98, 1.00, 0.985, 0.99, 0.995, 0.98, 0.99, 1.01};
        double[] below = {0.93, 0.94, 0.92, 0.95, 0.93, 0.94, 0.93, 0.96, 0.94};
        double[] straddling = {0.93, 0.99, 0.95, 1.00, 0.96, 0.98, 0.94, 0.99, 0.97};
        assertEquals("met", Reports.atLeast(above, 0.97));
        assertEquals("MISSED", Reports.atLeast(below, 0.97));
        assertTrue(Reports.atLeast(straddling, 0.97).startsWith("not resolved"), Reports.atLeast(straddling, 0.97));
        assertEquals("0.970 [0.940-0.990]", Reports.medianWithInterval(straddling));
    }
}
