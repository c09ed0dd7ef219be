package dev.tether.net.impl;

import dev.tether.net.impl.Callbacks.Kind;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Callbacks run after the state change that caused them, in order, and a throwing one stops nothing. */
class CallbacksTest {

  /** Tasks for "a later turn of the loop", run by the test when it chooses. */
  private final java.util.ArrayDeque<Runnable> later = new java.util.ArrayDeque<>();

  private Callbacks callbacks() {
    return new Callbacks("c-1", later::add, Runnable::run);
  }

  @Test
  void whatAUsersOwnCallCausesRunsAfterTheCallReturnedInALaterTurn() {
    Callbacks cb = callbacks();
    List<String> log = new ArrayList<>();
    cb.enterCall();
    cb.post(Kind.RECEIPT, () -> log.add("receipt"));
    cb.post(Kind.DRAIN, () -> log.add("drain"));
    cb.exitCall();
    log.add("call returned");
    assertThat(later).hasSize(1);
    later.poll().run();
    assertThat(log).containsExactly("call returned", "receipt", "drain");
  }

  @Test
  void outsideAnEntryPointACallbackRunsAtOnce() {
    Callbacks cb = callbacks();
    List<String> log = new ArrayList<>();
    cb.post(Kind.RECEIPT, () -> log.add("now"));
    assertThat(log).containsExactly("now");
  }

  @Test
  void insideNestedEntryPointsCallbacksWaitForTheOutermostAndKeepTheirOrder() {
    Callbacks cb = callbacks();
    List<String> log = new ArrayList<>();
    cb.run(() -> {
      cb.post(Kind.RECEIPT, () -> log.add("a"));
      cb.run(() -> cb.post(Kind.DRAIN, () -> log.add("b")));
      log.add("state change done");
      cb.post(Kind.OUTCOME, () -> log.add("c"));
    });
    assertThat(log).containsExactly("state change done", "a", "b", "c");
  }

  @Test
  void aCallbackThatEntersAgainQueuesBehindTheOnesAlreadyWaiting() {
    Callbacks cb = callbacks();
    List<String> log = new ArrayList<>();
    cb.run(() -> {
      cb.post(Kind.RECEIPT, () -> {
        log.add("first");
        // a receipt that writes: the write is an entry point; what it posts runs after "second"
        cb.run(() -> cb.post(Kind.RECEIPT, () -> log.add("posted by first")));
        log.add("first done");
      });
      cb.post(Kind.RECEIPT, () -> log.add("second"));
    });
    assertThat(log).containsExactly("first", "first done", "second", "posted by first");
  }

  @Test
  void aThrowingCallbackIsCountedAndTheNextOneStillRuns() {
    Callbacks cb = callbacks();
    List<String> log = new ArrayList<>();
    cb.run(() -> {
      cb.post(Kind.FAILURE, () -> {
        throw new IllegalStateException("user code");
      });
      cb.post(Kind.CLOSE, () -> log.add("close handler"));
    });
    cb.post(Kind.FAILURE, () -> {
      throw new Error("again");
    });
    assertThat(log).containsExactly("close handler");
    assertThat(cb.thrown()).isEqualTo(2);
    assertThat(cb.busy()).isFalse();
  }

  @Test
  void anEntryPointThatThrowsStillRunsWhatItPosted() {
    Callbacks cb = callbacks();
    List<String> log = new ArrayList<>();
    try {
      cb.run(() -> {
        cb.post(Kind.RECEIPT, () -> log.add("receipt"));
        throw new IllegalStateException("internal");
      });
    } catch (IllegalStateException expected) {
      log.add("caught");
    }
    assertThat(log).containsExactly("receipt", "caught");
    assertThat(cb.busy()).isFalse();
  }
}
