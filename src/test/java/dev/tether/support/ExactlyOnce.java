package dev.tether.support;

import dev.tether.session.EchoLoad;

import static org.assertj.core.api.Assertions.assertThat;

/** The session layer's promise, checked on an {@link EchoLoad} run: every message exactly once, in order. */
public final class ExactlyOnce {

  private ExactlyOnce() {
  }

  /** No session failed, nothing lost, duplicated, out of order or corrupted, and every message echoed. */
  public static void assertExactlyOnce(EchoLoad.Result r) {
    assertThat(r.failedSessions()).as("sessions lost: %s", r).isZero();
    assertThat(r.lost()).as("lost: %s", r).isZero();
    assertThat(r.duplicated()).as("duplicated: %s", r).isZero();
    assertThat(r.outOfOrder()).as("out of order: %s", r).isZero();
    assertThat(r.corrupted()).as("corrupted: %s", r).isZero();
    assertThat(r.received()).as("%s", r).isEqualTo(r.sent());
  }
}
