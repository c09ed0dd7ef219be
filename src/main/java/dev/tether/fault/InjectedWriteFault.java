package dev.tether.fault;

import dev.tether.net.SoftWriteException;

/** A write refused by the fault injector before it reached the transport. */
public final class InjectedWriteFault extends SoftWriteException {

  public InjectedWriteFault(String message) {
    super(message);
  }
}
