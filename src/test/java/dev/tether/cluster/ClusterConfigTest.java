package dev.tether.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.XmlConfigBuilder;
import dev.tether.config.TetherConfig;
import dev.tether.tools.ClusterConf;
import dev.tether.verticles.ClusterVerticle;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the shipped {@code conf/cluster.xml} promises (loopback only, fast failure detection, the
 * Vert.x maps and the node registry with a backup), and the per-node configurations
 * {@code scripts/cluster.sh} derives from {@code conf/tether.json}.
 */
class ClusterConfigTest {

  @Test
  void theShippedClusterConfigurationIsLoopbackOnlyWithFastDetection() throws Exception {
    Config c = new XmlConfigBuilder("conf/cluster.xml").build();
    assertThat(c.getClusterName()).isEqualTo("tether");
    JoinConfig join = c.getNetworkConfig().getJoin();
    assertThat(join.getMulticastConfig().isEnabled()).isFalse();
    assertThat(join.getAutoDetectionConfig().isEnabled()).isFalse();
    assertThat(join.getTcpIpConfig().isEnabled()).isTrue();
    List<String> members = new ArrayList<>();
    for (int p = 5701; p <= 5710; p++) {
      members.add("127.0.0.1:" + p);
    }
    assertThat(join.getTcpIpConfig().getMembers()).isEqualTo(members);
    assertThat(c.getNetworkConfig().getPort()).isEqualTo(5701);
    assertThat(c.getNetworkConfig().getPortCount()).isEqualTo(10);
    assertThat(c.getNetworkConfig().getInterfaces().isEnabled()).isTrue();
    assertThat(c.getNetworkConfig().getInterfaces().getInterfaces()).containsExactly("127.0.0.1");
    assertThat(c.getProperties())
      .containsEntry("hazelcast.socket.bind.any", "false")
      .containsEntry("hazelcast.phone.home.enabled", "false")
      .containsEntry("hazelcast.wait.seconds.before.join", "0")
      .containsEntry("hazelcast.heartbeat.interval.seconds", "1")
      .containsEntry("hazelcast.max.no.heartbeat.seconds", "5");
    assertThat(c.getMultiMapConfig("__vertx.subs").getBackupCount()).isEqualTo(1);
    assertThat(c.getMultiMapConfig("__vertx.subs").getValueCollectionType().name()).isEqualTo("SET");
    for (String map : List.of("__vertx.haInfo", "__vertx.nodeInfo", ClusterVerticle.REGISTRY)) {
      assertThat(c.getMapConfigs()).containsKey(map);
      assertThat(c.getMapConfig(map).getBackupCount()).isEqualTo(1);
    }
  }

  @Test
  void nodeIGetsItsNameAndEveryPortMovedByAHundredTimesIMinusOne() throws Exception {
    JsonObject template = new JsonObject(Files.readString(Path.of("conf/tether.json")));
    JsonObject third = ClusterConf.node(template, "node-3", 2 * ClusterConf.PORT_STEP);
    assertThat(third.getString("node")).isEqualTo("node-3");
    assertThat(third.getJsonObject("http").getInteger("port")).isEqualTo(8280);
    assertThat(third.getJsonObject("bridge").getInteger("port")).isEqualTo(7202);
    assertThat(third.getJsonObject("servers").getJsonObject("echo").getInteger("port")).isEqualTo(7200);
    assertThat(third.getJsonObject("servers").getJsonObject("session").getInteger("port")).isEqualTo(7201);
    // nothing else changed, and it is still a valid configuration
    JsonObject back = third.copy().put("node", template.getString("node"));
    back.getJsonObject("http").put("port", 8080);
    back.getJsonObject("bridge").put("port", 7002);
    back.getJsonObject("servers").getJsonObject("echo").put("port", 7000);
    back.getJsonObject("servers").getJsonObject("session").put("port", 7001);
    assertThat(back).isEqualTo(template);
    assertThat(TetherConfig.fromJson(third).node()).isEqualTo("node-3");
    assertThat(template.getJsonObject("http").getInteger("port")).as("the template is not touched").isEqualTo(8080);
  }

  @Test
  void aPortZeroStaysZero() {
    JsonObject t = new JsonObject().put("http", new JsonObject().put("port", 0))
      .put("servers", new JsonObject().put("echo", new JsonObject().put("verticle", "echo").put("port", 0)));
    JsonObject n = ClusterConf.node(t, "node-2", 100);
    assertThat(n.getJsonObject("http").getInteger("port")).isZero();
    assertThat(n.getJsonObject("servers").getJsonObject("echo").getInteger("port")).isZero();
  }
}
