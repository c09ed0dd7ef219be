package dev.tether.it;

import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The two jars of {@code package}: the library jar (the project's main artifact, what {@code install}
 * publishes as {@code dev.tether:tether}) holds the library and the verticles and nothing else, no
 * tools, no dependency; the fat jar {@code target/tether.jar} (scripts, the other ITs) holds all of it,
 * tools and runtime dependencies included. Paths come from failsafe (pom.xml), with the defaults below.
 */
class JarContentsIT {

  static final Path LIBRARY_JAR = Path.of(System.getProperty("tether.libraryJar", "target/tether-0.1.0-SNAPSHOT.jar"));
  static final Path FAT_JAR = Path.of(System.getProperty("tether.fatJar", "target/tether.jar"));
  static final Path CLASSES = Path.of(System.getProperty("tether.classes", "target/classes"));

  static final String TOOLS = "dev/tether/tools/";
  /** The tools the scripts run with {@code java -cp target/tether.jar <class>}. */
  static final List<String> SCRIPT_TOOLS = List.of("LoadGen", "BenchServer", "BenchSummary", "BenchChart",
    "BenchResults", "NettyEcho", "SessionBench", "Stress", "Watch", "ChaosProxy", "Args");

  /** The only dependencies the library's POM passes on to its users (compile scope, not optional). */
  static final Set<String> LIBRARY_DEPENDENCIES = Set.of(
    "io.vertx:vertx-core", "io.micrometer:micrometer-core", "org.slf4j:slf4j-api");

  @Test
  void theLibraryJarHoldsTheLibraryAndTheVerticlesButNoToolsAndNoDependency() throws IOException {
    assertThat(LIBRARY_JAR).as("the library jar (main artifact)").isRegularFile();
    assertThat(LIBRARY_JAR.toAbsolutePath().normalize()).isNotEqualTo(FAT_JAR.toAbsolutePath().normalize());
    try (JarFile jar = new JarFile(LIBRARY_JAR.toFile())) {
      Set<String> files = files(jar);
      assertThat(files).as("no tool in the library jar").noneMatch(n -> n.startsWith(TOOLS));
      assertThat(files).as("no logback classes or configuration in the library jar")
        .noneMatch(n -> n.startsWith("ch/qos/logback/") || n.matches("(.*/)?logback(-test)?\\.xml"));
      assertThat(files).as("only Tether's own classes in the library jar")
        .filteredOn(n -> n.endsWith(".class")).allMatch(n -> n.startsWith("dev/tether/"));

      // exactly what was compiled (library, verticles, resources) minus the tools
      Set<String> expected = new TreeSet<>(compiled());
      expected.removeIf(n -> n.startsWith(TOOLS));
      Set<String> actual = new TreeSet<>(files);
      actual.removeIf(n -> n.equals(JarFile.MANIFEST_NAME) || n.startsWith("META-INF/maven/"));
      assertThat(actual).isEqualTo(expected);
      assertThat(files).contains("dev/tether/Tether.class", "dev/tether/net/TrackedServer.class",
        "dev/tether/verticles/MainVerticle.class", "dev/tether/verticles/EchoVerticle.class",
        "dev/tether/monitor/dashboard/index.html");

      Attributes main = jar.getManifest().getMainAttributes();
      assertThat(main.getValue("Main-Class")).as("Main-Class of a library jar").isNull();
      assertThat(main.getValue("Main-Verticle")).as("Main-Verticle of a library jar").isNull();
    }
  }

  @Test
  void theFatJarHoldsTheLibraryTheToolsAndTheRuntimeDependencies() throws IOException {
    assertThat(FAT_JAR).isRegularFile();
    try (JarFile jar = new JarFile(FAT_JAR.toFile())) {
      Set<String> files = files(jar);
      assertThat(files).as("everything compiled, tools included").containsAll(compiled());
      for (String tool : SCRIPT_TOOLS) {
        assertThat(files).contains(TOOLS + tool + ".class");
      }
      assertThat(files).contains(
        "ch/qos/logback/classic/Logger.class",
        "org/slf4j/LoggerFactory.class",
        "io/vertx/core/Vertx.class",
        "io/vertx/launcher/application/VertxApplication.class",
        "io/vertx/spi/cluster/hazelcast/HazelcastClusterManager.class",
        "io/vertx/micrometer/MicrometerMetricsFactory.class",
        "io/micrometer/prometheusmetrics/PrometheusMeterRegistry.class",
        "io/vertx/ext/eventbus/bridge/tcp/TcpEventBusBridge.class",
        "io/netty/channel/epoll/Epoll.class",
        "META-INF/native/libnetty_transport_native_epoll_x86_64.so",
        "io/netty/channel/uring/IoUring.class",
        "META-INF/native/libnetty_transport_native_io_uring42_x86_64.so");
      assertThat(files).as("signatures of signed dependencies are left out")
        .noneMatch(n -> n.matches("META-INF/[^/]*\\.(SF|DSA|RSA)"));

      Manifest manifest = jar.getManifest();
      Attributes main = manifest.getMainAttributes();
      assertThat(main.getValue("Main-Class")).isEqualTo("io.vertx.launcher.application.VertxApplication");
      assertThat(main.getValue("Main-Verticle")).isEqualTo("dev.tether.verticles.MainVerticle");
      assertThat(main.getValue("Multi-Release")).isEqualTo("true");

      // both providers of the cluster manager and the metrics: the services files were merged
      String providers = new String(jar.getInputStream(jar.getEntry("META-INF/services/io.vertx.core.spi.VertxServiceProvider"))
        .readAllBytes(), StandardCharsets.UTF_8);
      assertThat(providers).contains("io.vertx.spi.cluster.hazelcast.HazelcastClusterManager",
        "io.vertx.micrometer.MicrometerMetricsFactory");
    }
  }

  @Test
  void thePomInstalledWithTheLibraryPassesOnOnlyWhatTheLibraryNeeds() throws Exception {
    // with createDependencyReducedPom, shade would write this file and install would publish it
    // instead of pom.xml: a POM without the library's dependencies (they are all in the fat jar)
    assertThat(Path.of("dependency-reduced-pom.xml")).as(
      "shade wrote a dependency-reduced POM: keep createDependencyReducedPom false (then delete the file)").doesNotExist();

    Element project = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Path.of("pom.xml").toFile())
      .getDocumentElement();
    Element dependencies = child(project, "dependencies");
    List<String> passedOn = new ArrayList<>();
    NodeList list = dependencies.getElementsByTagName("dependency");
    for (int i = 0; i < list.getLength(); i++) {
      Element d = (Element) list.item(i);
      if (d.getParentNode() != dependencies) {
        continue;
      }
      String scope = text(d, "scope", "compile");
      boolean optional = Boolean.parseBoolean(text(d, "optional", "false"));
      if ((scope.equals("compile") || scope.equals("runtime")) && !optional) {
        passedOn.add(text(d, "groupId", "") + ":" + text(d, "artifactId", ""));
      }
    }
    assertThat(passedOn).as("dependencies users of dev.tether:tether get (others must be optional or test)")
      .containsExactlyInAnyOrderElementsOf(LIBRARY_DEPENDENCIES);
  }

  /** The file entries (no directories) of a jar. */
  static Set<String> files(JarFile jar) {
    Set<String> names = new TreeSet<>();
    for (JarEntry e : Collections.list(jar.entries())) {
      if (!e.isDirectory()) {
        names.add(e.getName());
      }
    }
    return names;
  }

  /** The files under target/classes, as jar entry names. */
  static Set<String> compiled() throws IOException {
    assertThat(CLASSES).isDirectory();
    Set<String> names = new TreeSet<>();
    try (Stream<Path> walk = Files.walk(CLASSES)) {
      walk.filter(Files::isRegularFile).forEach(p -> names.add(CLASSES.relativize(p).toString().replace('\\', '/')));
    }
    assertThat(names).as("compiled tools").anyMatch(n -> n.startsWith(TOOLS));
    return names;
  }

  static Element child(Element parent, String name) {
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals(name)) {
        return e;
      }
    }
    throw new AssertionError("no <" + name + "> in <" + parent.getTagName() + ">");
  }

  static String text(Element parent, String name, String otherwise) {
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals(name)) {
        return e.getTextContent().trim();
      }
    }
    return otherwise;
  }
}
