package dev.tether.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.XmlConfigBuilder;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A private Hazelcast cluster for one test class: {@code conf/cluster.xml} as shipped (loopback,
 * TCP-IP join, heartbeats, no wait before join), with a cluster name of its own and member ports
 * found free at test time, so parallel runs and real nodes on 5701.. can never join it.
 */
final class TestCluster {

  static final int PORTS = 10;

  final String name = "tether-test-" + UUID.randomUUID();
  final int base;

  TestCluster() throws IOException {
    base = freeRange(PORTS);
  }

  /** A fresh configuration for one member (vertx-hazelcast writes its node id into it: never share one). */
  Config hazelcastConfig() {
    Config c;
    try {
      c = new XmlConfigBuilder("conf/cluster.xml").build();
    } catch (FileNotFoundException e) {
      throw new IllegalStateException("conf/cluster.xml (tests run from the project root)", e);
    }
    c.setClusterName(name);
    c.getNetworkConfig().setPort(base).setPortCount(PORTS).setPortAutoIncrement(true);
    List<String> members = new ArrayList<>();
    for (int p = base; p < base + PORTS; p++) {
      members.add("127.0.0.1:" + p);
    }
    c.getNetworkConfig().getJoin().getTcpIpConfig().setMembers(members);
    return c;
  }

  /** The first of {@code n} consecutive ports free on 127.0.0.1 now. */
  static int freeRange(int n) throws IOException {
    for (int attempt = 0; attempt < 200; attempt++) {
      int base = ThreadLocalRandom.current().nextInt(20_000, 60_000 - n);
      if (free(base, n)) {
        return base;
      }
    }
    throw new IOException("no " + n + " consecutive free ports found");
  }

  private static boolean free(int base, int n) {
    for (int p = base; p < base + n; p++) {
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(false);
        s.bind(new InetSocketAddress("127.0.0.1", p));
      } catch (IOException inUse) {
        return false;
      }
    }
    return true;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress("127.0.0.1", 0));
      return s.getLocalPort();
    }
  }
}
