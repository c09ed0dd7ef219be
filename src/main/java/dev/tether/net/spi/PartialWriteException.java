package dev.tether.net.spi;

import io.netty.channel.ChannelFuture;

/**
 * A soft failure in which the first {@code passedBytes} of a write were passed on towards the
 * transport and the rest was refused. The handler that splits a write fails the write's promise
 * with this at once (so later writes are held behind it) and hands over the future of the passed
 * part, which Tether follows to learn whether those bytes reached the kernel. Make it a progressive
 * future ({@code ctx.newProgressivePromise()}): if the connection fails while the passed part is
 * under way, Tether then counts what of it was written as flushed; a plain future that fails makes
 * the whole passed part count as unsent, although some of it may have reached the peer.
 */
public final class PartialWriteException extends SoftWriteException {

  private final int passedBytes;
  private final transient ChannelFuture passed;

  public PartialWriteException(String message, int passedBytes, ChannelFuture passed) {
    super(message);
    this.passedBytes = passedBytes;
    this.passed = passed;
  }

  public int passedBytes() {
    return passedBytes;
  }

  public ChannelFuture passed() {
    return passed;
  }
}
