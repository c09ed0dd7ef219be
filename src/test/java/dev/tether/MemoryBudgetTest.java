package dev.tether;

import ch.qos.logback.classic.Level;
import dev.tether.metrics.MicrometerRecorder;
import dev.tether.support.LogCapture;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The account on its own (no sockets): the zones, who is paused, who is shed and in which order, and
 * that the books return to zero. The socket and session tests provoke the same on real connections.
 */
class MemoryBudgetTest {

  /** Records what the budget asked of a party, in order. */
  static final class Party implements MemoryBudget.Holder {
    final String name;
    final List<String> calls;

    Party(String name, List<String> calls) {
      this.name = name;
      this.calls = calls;
    }

    @Override
    public void pauseReading() {
      calls.add("pause " + name);
    }

    @Override
    public void resumeReading() {
      calls.add("resume " + name);
    }

    @Override
    public void shed(String reason) {
      calls.add("shed " + name);
    }
  }

  @Test
  void pastTheHighMarkTheHeaviestPauseAndAtTheLowMarkAllResume() {
    MemoryBudget b = new MemoryBudget(1000, 0.8, 0.6);
    List<String> calls = new CopyOnWriteArrayList<>();
    MemoryBudget.Account a = b.open("connection", "a", new Party("a", calls));
    MemoryBudget.Account c = b.open("connection", "c", new Party("c", calls));
    MemoryBudget.Account d = b.open("connection", "d", new Party("d", calls));
    assertThat(a.charge(500)).isTrue();
    assertThat(c.charge(200)).isTrue();
    assertThat(d.charge(100)).isTrue();
    assertThat(calls).isEmpty(); // 800 is the high mark, not past it
    assertThat(d.charge(1)).isTrue();
    // a holds 500 of 801: at least half, so only a stops reading
    assertThat(calls).containsExactly("pause a");
    assertThat(b.paused()).isEqualTo(1);
    a.credit(200); // 601: above the low mark (600)
    assertThat(calls).containsExactly("pause a");
    c.credit(1); // 600
    assertThat(calls).containsExactly("pause a", "resume a");
    assertThat(b.paused()).isZero();
    assertThat(b.pauses()).isEqualTo(1);
  }

  @Test
  void pastTheLimitTheLargestAreShedAndTheirChargesRefused() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    MemoryBudget b = new MemoryBudget(1000, 0.8, 0.6);
    b.bind(new MicrometerRecorder(registry));
    List<String> calls = new CopyOnWriteArrayList<>();
    MemoryBudget.Account big = b.open("session", "big", new Party("big", calls));
    MemoryBudget.Account mid = b.open("connection", "mid", new Party("mid", calls));
    MemoryBudget.Account small = b.open("connection", "small", new Party("small", calls));
    try (LogCapture log = new LogCapture(MemoryBudget.class, Level.INFO)) {
      assertThat(big.charge(500)).isTrue();
      assertThat(mid.charge(300)).isTrue();
      assertThat(small.charge(150)).isTrue(); // 950: past the high mark, big (at least half) paused
      assertThat(small.charge(100)).isTrue(); // 1050: past the limit, big shed; small's charge stands
      assertThat(calls).containsExactly("pause big", "shed big");
      assertThat(big.condemned()).isTrue();
      assertThat(big.charge(1)).isFalse(); // nothing more is retained by a condemned party
      assertThat(b.used()).isEqualTo(1050); // until big actually frees its bytes
      assertThat(log.lines(Level.WARN)).hasSize(1).first().asString()
        .contains("shedding session big holding 500 bytes").contains("1050 of 1000 bytes used");
      // while big's bytes are on their way out, nobody else is shed for them
      assertThat(mid.charge(10)).isTrue();
      assertThat(calls).containsExactly("pause big", "shed big");
      big.close();
      assertThat(b.used()).isEqualTo(560);
    }
    assertThat(registry.get("tether.memory.shed").tag("kind", "session").counter().count()).isEqualTo(1);
    assertThat(registry.get("tether.memory.shed").tag("kind", "connection").counter().count()).isZero();
    assertThat(registry.get("tether.memory.shed.bytes").tag("kind", "session").counter().count()).isEqualTo(500);
    assertThat(registry.get("tether.memory.used").gauge().value()).isEqualTo(560);
    assertThat(registry.get("tether.memory.limit").gauge().value()).isEqualTo(1000);
    assertThat(b.paused()).isZero();
    mid.close();
    small.close();
    assertThat(b.used()).isZero();
    assertThat(b.accounts()).isZero();
  }

  @Test
  void theChargingPartyIsRefusedWhenItIsTheLargest() {
    MemoryBudget b = new MemoryBudget(1000, 0.9, 0.5);
    List<String> calls = new CopyOnWriteArrayList<>();
    MemoryBudget.Account hog = b.open("connection", "hog", new Party("hog", calls));
    MemoryBudget.Account other = b.open("connection", "other", new Party("other", calls));
    assertThat(other.charge(100)).isTrue();
    assertThat(hog.charge(850)).isTrue();
    assertThat(hog.charge(100)).isFalse(); // 1050 would pass the limit and hog is the largest: refused
    assertThat(calls).containsExactly("pause hog", "shed hog");
    assertThat(hog.bytes()).isEqualTo(850);
    assertThat(b.used()).isEqualTo(950);
    hog.credit(850);
    other.credit(100);
    assertThat(b.used()).isZero();
  }

  @Test
  void eachChargePastTheLimitShedsTheLargestOfThatMoment() {
    MemoryBudget b = new MemoryBudget(1000, 0.8, 0.6);
    List<String> calls = new CopyOnWriteArrayList<>();
    MemoryBudget.Account[] p = new MemoryBudget.Account[5];
    for (int i = 0; i < 5; i++) {
      p[i] = b.open("connection", "p" + i, new Party("p" + i, calls));
    }
    assertThat(p[0].charge(300)).isTrue();
    assertThat(p[1].charge(250)).isTrue();
    assertThat(p[2].charge(200)).isTrue();
    assertThat(p[3].charge(40)).isTrue();
    calls.clear();
    assertThat(p[4].charge(700)).isFalse(); // 1490: p4 (700) is the largest and alone brings it under
    assertThat(calls).containsExactly("shed p4");
    assertThat(p[3].charge(500)).isFalse(); // 1290 over 1000 after p4 refunded: p3 would hold 540, the largest
    assertThat(calls).containsExactly("shed p4", "shed p3");
    assertThat(p[0].charge(10)).isTrue(); // 800: the refused bytes never counted
    assertThat(b.used()).isEqualTo(800);
    assertThat(calls).containsExactly("shed p4", "shed p3");
  }

  @Test
  void marksAreChecked() {
    assertThatThrownBy(() -> new MemoryBudget(0, 0.8, 0.6)).hasMessageContaining("limit must be > 0");
    assertThatThrownBy(() -> new MemoryBudget(10, 0.6, 0.8)).hasMessageContaining("0 < lowMark < highMark <= 1");
  }
}
