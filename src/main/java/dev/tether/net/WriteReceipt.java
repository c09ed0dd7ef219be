package dev.tether.net;

/**
 * Proof that a write's bytes were handed to the kernel (not that the peer read them: that takes the
 * protocol's own acknowledgements).
 *
 * @param start      stream offset of the first byte
 * @param end        stream offset just past the last byte
 * @param flushNanos time from {@code write} to the last byte flushed
 * @param resent     whether some of the bytes were replayed after a soft failure
 */
public record WriteReceipt(long start, long end, long flushNanos, boolean resent) {

  public long length() {
    return end - start;
  }
}
