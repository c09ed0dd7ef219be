package dev.tether.fault;

import dev.tether.net.spi.SoftWriteException;

/** A write refused by the fault injector before it reached the transport. */
public final class InjectedWriteFault extends SoftWriteException {

  public InjectedWriteFault(String message) {
    super(message);
  }
}
