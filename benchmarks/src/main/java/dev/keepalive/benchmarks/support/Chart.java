package dev.keepalive.benchmarks.support;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A small line chart written as PNG with Java2D (headless), for the distributions the benchmarks print: detection
 * time CDFs, pings per 10 ms window, connection attempts per 100 ms. No plotting dependency: the benchmarks need
 * lines, steps, markers and a legend, nothing more.
 *
 * <pre>{@code
 * Chart.titled("Pings per 10 ms window", "time in the interval (ms)", "pings")
 *      .steps("keepalive", xs, ys).steps("IdleStateHandler", xs, baseline)
 *      .horizontalLine("2x mean", 2 * mean)
 *      .write(Reports.file("idle-scale-spread-10000.png"));
 * }</pre>
 */
public final class Chart {
    private static final int WIDTH = 960;
    private static final int HEIGHT = 540;
    private static final int LEFT = 80;
    private static final int RIGHT = 30;
    private static final int TOP = 50;
    private static final int BOTTOM = 60;
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
        new Color(0x9467bd), new Color(0xff7f0e), new Color(0x8c564b)};

    private record Series(String name, double[] x, double[] y, boolean steps) {
    }

    private record Marker(String label, double value, boolean vertical) {
    }

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();
    private final List<Marker> markers = new ArrayList<>();
    private double fixedYTop = Double.NaN;
    private double includeX = Double.NaN;

    private Chart(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    /** A new, empty chart. */
    public static Chart titled(String title, String xLabel, String yLabel) {
        return new Chart(title, xLabel, yLabel);
    }

    /** A series drawn as straight segments between its points. */
    public Chart line(String name, double[] x, double[] y) {
        return add(new Series(name, x.clone(), y.clone(), false));
    }

    /** A series drawn as steps (each y holds until the next x): histograms, CDFs. */
    public Chart steps(String name, double[] x, double[] y) {
        return add(new Series(name, x.clone(), y.clone(), true));
    }

    /** The empirical CDF of {@code samples} (fraction of samples at or below x). */
    public Chart cdf(String name, double[] samples) {
        double[] x = samples.clone();
        Arrays.sort(x);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = (i + 1) / (double) x.length;
        }
        return steps(name, x, y);
    }

    /** Fixes the top of the y axis (for example 1 for a CDF) instead of fitting it to the data. */
    public Chart yTop(double top) {
        if (!(top > 0)) {
            throw new IllegalArgumentException("yTop must be > 0, but was " + top);
        }
        fixedYTop = top;
        return this;
    }

    /** Stretches the x axis to include {@code x} (for example 0, so that distances from the origin read true). */
    public Chart includeX(double x) {
        includeX = x;
        return this;
    }

    /** A dashed vertical line at {@code x}, labelled. */
    public Chart verticalLine(String label, double x) {
        markers.add(new Marker(label, x, true));
        return this;
    }

    /** A dashed horizontal line at {@code y}, labelled. */
    public Chart horizontalLine(String label, double y) {
        markers.add(new Marker(label, y, false));
        return this;
    }

    private Chart add(Series s) {
        if (s.x().length != s.y().length) {
            throw new IllegalArgumentException("series " + s.name() + ": " + s.x().length + " x values but "
                    + s.y().length + " y values");
        }
        series.add(s);
        return this;
    }

    /** Renders the chart to {@code png} (parent directories are created) and returns the path. */
    public Path write(Path png) {
        double xMin = Double.POSITIVE_INFINITY;
        double xMax = Double.NEGATIVE_INFINITY;
        double yMax = 0;
        for (Series s : series) {
            for (double v : s.x()) {
                xMin = Math.min(xMin, v);
                xMax = Math.max(xMax, v);
            }
            for (double v : s.y()) {
                yMax = Math.max(yMax, v);
            }
        }
        for (Marker m : markers) {
            if (m.vertical()) {
                xMin = Math.min(xMin, m.value());
                xMax = Math.max(xMax, m.value());
            } else {
                yMax = Math.max(yMax, m.value());
            }
        }
        if (!Double.isNaN(includeX)) {
            xMin = Math.min(xMin, includeX);
            xMax = Math.max(xMax, includeX);
        }
        if (!(xMin < xMax)) {
            xMin = Double.isFinite(xMin) ? xMin - 1 : 0;
            xMax = xMin + 2;
        }
        double yTop = Double.isNaN(fixedYTop) ? niceCeiling(yMax <= 0 ? 1 : yMax * 1.05) : fixedYTop;
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            Frame f = new Frame(xMin, xMax, yTop);
            drawAxes(g, f);
            for (int i = 0; i < series.size(); i++) {
                drawSeries(g, f, series.get(i), PALETTE[i % PALETTE.length]);
            }
            for (int i = 0; i < markers.size(); i++) {
                drawMarker(g, f, markers.get(i), i);
            }
            drawLegend(g);
        } finally {
            g.dispose();
        }
        try {
            if (png.getParent() != null) {
                Files.createDirectories(png.getParent());
            }
            ImageIO.write(image, "png", png.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + png, e);
        }
        return png;
    }

    private record Frame(double xMin, double xMax, double yTop) {
        int px(double x) {
            return LEFT + (int) Math.round((x - xMin) / (xMax - xMin) * (WIDTH - LEFT - RIGHT));
        }

        int py(double y) {
            return HEIGHT - BOTTOM - (int) Math.round(y / yTop * (HEIGHT - TOP - BOTTOM));
        }
    }

    private void drawAxes(Graphics2D g, Frame f) {
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.setColor(Color.BLACK);
        g.drawString(title, LEFT, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        FontMetrics fm = g.getFontMetrics();
        for (int i = 0; i <= 5; i++) {
            double y = f.yTop() * i / 5;
            int py = f.py(y);
            g.setColor(new Color(0xe0e0e0));
            g.drawLine(LEFT, py, WIDTH - RIGHT, py);
            g.setColor(Color.DARK_GRAY);
            String label = format(y);
            g.drawString(label, LEFT - 8 - fm.stringWidth(label), py + 4);
            double x = f.xMin() + (f.xMax() - f.xMin()) * i / 5;
            int px = f.px(x);
            g.drawLine(px, HEIGHT - BOTTOM, px, HEIGHT - BOTTOM + 5);
            String xl = format(x);
            g.drawString(xl, px - fm.stringWidth(xl) / 2, HEIGHT - BOTTOM + 20);
        }
        g.setColor(Color.BLACK);
        g.drawLine(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM);
        g.drawLine(LEFT, TOP, LEFT, HEIGHT - BOTTOM);
        g.drawString(xLabel, (WIDTH - fm.stringWidth(xLabel)) / 2, HEIGHT - 15);
        Graphics2D rotated = (Graphics2D) g.create();
        rotated.rotate(-Math.PI / 2);
        rotated.drawString(yLabel, -(HEIGHT + fm.stringWidth(yLabel)) / 2, 18);
        rotated.dispose();
    }

    private static void drawSeries(Graphics2D g, Frame f, Series s, Color color) {
        g.setColor(color);
        g.setStroke(new BasicStroke(1.6f));
        for (int i = 1; i < s.x().length; i++) {
            int x0 = f.px(s.x()[i - 1]);
            int y0 = f.py(s.y()[i - 1]);
            int x1 = f.px(s.x()[i]);
            int y1 = f.py(s.y()[i]);
            if (s.steps()) {
                g.drawLine(x0, y0, x1, y0);
                g.drawLine(x1, y0, x1, y1);
            } else {
                g.drawLine(x0, y0, x1, y1);
            }
        }
        g.setStroke(new BasicStroke(1f));
    }

    private static void drawMarker(Graphics2D g, Frame f, Marker m, int index) {
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f},
                0f));
        if (m.vertical()) {
            int x = f.px(m.value());
            g.drawLine(x, TOP, x, HEIGHT - BOTTOM);
            int width = g.getFontMetrics().stringWidth(m.label());
            int labelX = x + 4 + width > WIDTH ? x - 4 - width : x + 4; // left of the line at the right edge
            g.drawString(m.label(), labelX, TOP + 12 + 14 * index); // staggered, so that close markers stay legible
        } else {
            int y = f.py(m.value());
            g.drawLine(LEFT, y, WIDTH - RIGHT, y);
            g.drawString(m.label(), WIDTH - RIGHT - g.getFontMetrics().stringWidth(m.label()) - 4, y - 4);
        }
        g.setStroke(new BasicStroke(1f));
    }

    private void drawLegend(Graphics2D g) {
        int y = TOP + 8;
        for (int i = 0; i < series.size(); i++) {
            g.setColor(PALETTE[i % PALETTE.length]);
            g.fillRect(LEFT + 12, y - 9, 18, 4);
            g.setColor(Color.BLACK);
            g.drawString(series.get(i).name(), LEFT + 36, y - 3);
            y += 18;
        }
    }

    private static double niceCeiling(double v) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(v)));
        for (double step : new double[] {1, 2, 2.5, 5, 10}) {
            if (step * magnitude >= v) {
                return step * magnitude;
            }
        }
        return 10 * magnitude;
    }

    private static String format(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e9) {
            return String.format(Locale.ROOT, "%,d", (long) v);
        }
        return Math.abs(v) >= 10 ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%.2f", v);
    }
}
