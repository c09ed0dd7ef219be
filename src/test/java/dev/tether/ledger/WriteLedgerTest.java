package dev.tether.ledger;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WriteLedgerTest {

  private final WriteLedger<LedgerEntry> ledger = new WriteLedger<>();

  @Test
  void offsetsFollowTheStreamAndEntriesSettleInOrder() {
    LedgerEntry a = ledger.accept(new SimpleLedgerEntry(), 100);
    LedgerEntry b = ledger.accept(new SimpleLedgerEntry(), 50);
    assertThat(a.start()).isZero();
    assertThat(a.end()).isEqualTo(100);
    assertThat(b.start()).isEqualTo(100);
    assertThat(ledger.snapshot()).isEqualTo(new LedgerSnapshot(150, 0, 150, 0, 0));

    assertThat(ledger.flushed(a, 40)).isFalse();
    assertThat(a.firstUnflushed()).isEqualTo(40);
    assertThat(ledger.flushed(a, 60)).isTrue();
    assertThat(ledger.oldest()).isSameAs(b);
    ledger.checkInvariant();
    assertThat(ledger.snapshot()).isEqualTo(new LedgerSnapshot(150, 100, 50, 0, 0));
  }

  @Test
  void givingUpMovesOnlyTheRemainderToUnsentAndOnlyOnce() {
    LedgerEntry a = ledger.accept(new SimpleLedgerEntry(), 100);
    ledger.flushed(a, 30);
    assertThat(ledger.giveUp(a)).isEqualTo(70);
    assertThat(ledger.giveUp(a)).isZero();
    assertThat(a.remaining()).isZero();
    assertThat(a.givenUp()).isTrue();
    ledger.checkInvariant();
    assertThat(ledger.snapshot()).isEqualTo(new LedgerSnapshot(100, 30, 0, 70, 0));
    assertThat(ledger.snapshot().balanced()).isTrue();
  }

  @Test
  void refusedBytesAreAcceptedAndUnsentAtOnce() {
    ledger.accept(new SimpleLedgerEntry(), 10);
    assertThat(ledger.acceptUnsent(5)).isEqualTo(10);
    assertThat(ledger.accept(new SimpleLedgerEntry(), 1).start()).isEqualTo(15);
    assertThat(ledger.snapshot()).isEqualTo(new LedgerSnapshot(16, 0, 11, 5, 0));
  }

  @Test
  void flushingMoreThanRemainsIsABugCaughtAtOnce() {
    LedgerEntry a = ledger.accept(new SimpleLedgerEntry(), 10);
    assertThatThrownBy(() -> ledger.flushed(a, 11)).isInstanceOf(IllegalStateException.class);
  }
}
