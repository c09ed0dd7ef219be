package dev.tether.support;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The leak detector the whole suite runs under finds a buffer that was never released. */
class LeakDetectionTest {

  @Test
  void runsParanoidAndRecordsALeak() {
    assertThat(LeakDetection.paranoid()).as("surefire sets -Dio.netty.leakDetection.level=paranoid").isTrue();
    int before = LeakDetection.count();
    leak();
    await().atMost(Duration.ofSeconds(20)).until(() -> {
      LeakDetection.collect();
      return LeakDetection.count() > before;
    });
    List<String> found = LeakDetection.forgive(before);
    assertThat(String.join("\n", found)).contains("LEAK: ByteBuf.release() was not called")
      .contains("LeakDetectionTest.leak");
  }

  private static void leak() {
    ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(64);
    b.writeLong(42); // an access, recorded at the paranoid level
  }
}
