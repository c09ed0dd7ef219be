package dev.tether.support;

import java.util.Random;

import static org.assertj.core.api.Assertions.fail;

/** Byte-stream helpers whose failure messages say where two streams part, not print them whole. */
public final class Bytes {

  private Bytes() {
  }

  public static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  public static void assertSameStream(byte[] expected, byte[] actual) {
    int n = Math.min(expected.length, actual.length);
    for (int i = 0; i < n; i++) {
      if (expected[i] != actual[i]) {
        fail("streams differ first at offset " + i + " (expected " + expected.length + " bytes, got " + actual.length + ")");
      }
    }
    if (expected.length != actual.length) {
      fail("expected " + expected.length + " bytes, got " + actual.length + " (identical up to " + n + ")");
    }
  }

  /** Asserts {@code actual} is exactly the first {@code length} bytes of {@code stream}. */
  public static void assertPrefix(byte[] stream, int length, byte[] actual) {
    assertSameStream(java.util.Arrays.copyOf(stream, length), actual);
  }
}
