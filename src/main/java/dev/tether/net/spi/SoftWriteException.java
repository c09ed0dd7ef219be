package dev.tether.net.spi;

/**
 * A write refused before it reached the transport while the connection stays usable: a pipeline
 * handler (such as the fault injector, or a rate limiter of your own) may fail a tracked write with
 * this, and Tether treats it as a soft failure whose bytes can be resent.
 */
public class SoftWriteException extends RuntimeException {

  public SoftWriteException(String message) {
    super(message, null, false, false);
  }
}
