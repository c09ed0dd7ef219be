package dev.tether.support;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Makes a Netty buffer leak a test failure. Registered for every test class by JUnit's extension
 * auto-detection ({@code META-INF/services/org.junit.jupiter.api.extension.Extension} and
 * {@code junit-platform.properties}); surefire runs the tests with
 * {@code -Dio.netty.leakDetection.level=paranoid}, so every pooled buffer is tracked.
 *
 * <p>Netty reports a leak when a buffer that was never released has been garbage-collected: it logs
 * {@code LEAK: ...} at ERROR on {@code io.netty.util.ResourceLeakDetector} the next time a buffer
 * is allocated. An appender on that logger records those lines. After each test class, the
 * extension collects garbage and allocates a few tracked buffers (which is when Netty looks for
 * collected, unreleased ones), a few rounds, then fails the class if any leak was recorded since
 * it started. A leak found later than that (a buffer that stayed reachable past the class) fails
 * the class during which it was found, with the records that name where it was allocated and used.
 *
 * <p>Threading: the appender is called on whatever thread allocates; the list is synchronised.
 */
public final class LeakDetection implements BeforeAllCallback, AfterAllCallback {

  private static final List<String> LEAKS = new ArrayList<>();
  private static final String COUNT = "leaks-at-start";

  static {
    // leaks; and releases of a buffer already released (a reference given back twice), which
    // Netty's ReferenceCountUtil.safeRelease only logs
    for (Class<?> source : new Class<?>[] {ResourceLeakDetector.class, io.netty.util.ReferenceCountUtil.class}) {
      Logger netty = (Logger) LoggerFactory.getLogger(source);
      AppenderBase<ILoggingEvent> recorder = new AppenderBase<>() {
        @Override
        protected void append(ILoggingEvent e) {
          String m = e.getFormattedMessage();
          if (m != null && (m.contains("LEAK:") || m.startsWith("Failed to release"))) {
            synchronized (LEAKS) {
              LEAKS.add(m + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getClassName()
                + ": " + e.getThrowableProxy().getMessage()));
            }
          }
        }
      };
      recorder.setContext(netty.getLoggerContext());
      recorder.setName("tether-leak-recorder");
      recorder.start();
      netty.addAppender(recorder);
    }
  }

  /** Whether leak detection runs at the paranoid level (every buffer tracked). */
  public static boolean paranoid() {
    return ResourceLeakDetector.getLevel() == ResourceLeakDetector.Level.PARANOID;
  }

  /** Leak reports recorded so far in this JVM. */
  public static int count() {
    synchronized (LEAKS) {
      return LEAKS.size();
    }
  }

  /** The leak reports recorded from index {@code from} on. */
  public static List<String> since(int from) {
    synchronized (LEAKS) {
      return new ArrayList<>(LEAKS.subList(Math.min(from, LEAKS.size()), LEAKS.size()));
    }
  }

  /** Removes the reports recorded from index {@code from} on (for the test that leaks on purpose). */
  public static List<String> forgive(int from) {
    synchronized (LEAKS) {
      List<String> tail = LEAKS.subList(Math.min(from, LEAKS.size()), LEAKS.size());
      List<String> removed = new ArrayList<>(tail);
      tail.clear();
      return removed;
    }
  }

  /**
   * Collects garbage and lets Netty's detectors look for collected, unreleased buffers (they look
   * when a buffer is allocated), a few rounds: references are enqueued by the JVM asynchronously.
   */
  public static void collect() {
    for (int round = 0; round < 4; round++) {
      System.gc();
      for (ByteBufAllocator alloc : new ByteBufAllocator[] {PooledByteBufAllocator.DEFAULT, ByteBufAllocator.DEFAULT}) {
        for (int i = 0; i < 8; i++) {
          ByteBuf b = alloc.directBuffer(16);
          b.release();
          b = alloc.heapBuffer(16);
          b.release();
        }
      }
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    context.getStore(ExtensionContext.Namespace.create(LeakDetection.class)).put(COUNT, count());
  }

  @Override
  public void afterAll(ExtensionContext context) {
    Integer from = context.getStore(ExtensionContext.Namespace.create(LeakDetection.class)).get(COUNT, Integer.class);
    collect();
    List<String> leaks = since(from == null ? 0 : from);
    if (!leaks.isEmpty()) {
      throw new AssertionError(leaks.size() + " Netty buffer leak(s) or failed release(s) reported during " + context.getDisplayName()
        + " (leak detection level " + ResourceLeakDetector.getLevel() + "):\n" + String.join("\n----\n", leaks));
    }
  }
}
