package dev.tether.net;

import dev.tether.event.FailureKind;

/**
 * The future of a tracked write fails with this when some of its bytes were given up. The bytes
 * {@code [unsentFrom, end)} of the stream never reached the kernel.
 */
public final class WriteFailedException extends RuntimeException {

  private final FailureKind kind;
  private final long start;
  private final long end;
  private final long unsentFrom;

  public WriteFailedException(FailureKind kind, long start, long end, long unsentFrom, Throwable cause) {
    super(kind + ": bytes [" + unsentFrom + ", " + end + ") of write [" + start + ", " + end + ") were not sent", cause, false, false);
    this.kind = kind;
    this.start = start;
    this.end = end;
    this.unsentFrom = unsentFrom;
  }

  public FailureKind kind() {
    return kind;
  }

  public long start() {
    return start;
  }

  public long end() {
    return end;
  }

  /** Stream offset of the first byte of this write that was not sent. */
  public long unsentFrom() {
    return unsentFrom;
  }

  /** Bytes of this write that reached the kernel. */
  public long flushed() {
    return unsentFrom - start;
  }
}
