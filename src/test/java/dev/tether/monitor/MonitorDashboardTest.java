package dev.tether.monitor;

import dev.tether.event.Addresses;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

import static dev.tether.monitor.MonitorNode.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The live dashboard in a real headless Chromium (Debian's chromium + chromedriver; .ci/run installs
 * them): load {@code /}, provoke a failure, see it and its recovery appear without reloading.
 */
class MonitorDashboardTest {

  private MonitorNode node;
  private WebDriver driver;
  private Path profile;
  private final List<JsonObject> failures = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws Exception {
    node = new MonitorNode(MonitorNode.echo(new JsonObject().put("enabled", true).put("seed", 1)
      .put("failWrites", new JsonArray().add(2))), new JsonObject());
    await(node.vertx.eventBus().<JsonObject>consumer(Addresses.FAILURE, m -> failures.add(m.body())).completion());
    profile = Files.createTempDirectory("tether-chromium-");
    ChromeDriverService service = new ChromeDriverService.Builder()
      .usingDriverExecutable(new File("/usr/bin/chromedriver"))
      .usingAnyFreePort()
      .build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary("/usr/bin/chromium");
    options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage", "--user-data-dir=" + profile);
    driver = new ChromeDriver(service, options);
  }

  @AfterEach
  void stop() throws Exception {
    try {
      if (driver != null) {
        driver.quit();
      }
    } finally {
      node.close();
      if (profile != null) {
        try (Stream<Path> files = Files.walk(profile)) {
          files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
      }
    }
  }

  @Test
  void aProvokedFailureAppearsLiveWithItsBytesAndRecovery() throws Exception {
    driver.get("http://127.0.0.1:" + node.httpPort + "/");
    WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(20));
    wait.until(d -> "live".equals(d.findElement(By.id("status")).getText()));
    assertThat(driver.findElement(By.id("node")).getText()).isEqualTo("node " + MonitorNode.NODE);
    assertThat(driver.findElement(By.id("total-failures")).getText()).isEqualTo("0");
    assertThat(driver.findElements(By.cssSelector("#events tbody tr"))).isEmpty();
    // the per-node panel: this node alone (not clustered), live (rows are redrawn on every update: read them in one go)
    Object self = ((org.openqa.selenium.JavascriptExecutor) driver).executeScript(
      "var r=document.getElementById('node-test_node');return r.className+'|'+r.querySelector('.status').textContent"
        + "+'|'+r.querySelector('.name').textContent+'|'+document.querySelectorAll('#nodes tbody tr').length;");
    assertThat(self).isEqualTo("live|live|" + MonitorNode.NODE + " (this node)|1");

    try (Peer peer = new Peer(node.echoPort)) {
      peer.exchange(40, 1);
      peer.exchange(60, 2); // write #2 refused: WRITE_FAILED, resent
    }
    wait.until(d -> !failures.isEmpty());
    String id = failures.get(0).getString("id");

    WebElement failureRow = wait.until(d -> d.findElements(By.cssSelector("#events tr.failure[data-id='" + id + "']"))
      .stream().findFirst().orElse(null));
    assertThat(failureRow.findElement(By.className("kind")).getText()).isEqualTo("WRITE_FAILED");
    assertThat(failureRow.findElement(By.className("requested")).getText()).isEqualTo("60");
    assertThat(failureRow.findElement(By.className("flushed")).getText()).isEqualTo("0");
    assertThat(failureRow.findElement(By.className("unsent")).getText()).isEqualTo("60");
    assertThat(failureRow.findElement(By.className("offset")).getText()).isEqualTo("40");
    WebElement recoveryRow = wait.until(d -> d.findElements(By.cssSelector("#events tr.recovery[data-id='" + id + "']"))
      .stream().findFirst().orElse(null));
    assertThat(recoveryRow.findElement(By.className("recovery")).getText()).isEqualTo("resend-remainder: RESEND 60 B -> OK");
    wait.until(d -> "1".equals(d.findElement(By.id("total-failures")).getText()));
    assertThat(driver.findElement(By.cssSelector("#kind-WRITE_FAILED .count")).getText()).isEqualTo("1");
    wait.until(d -> "1".equals(((org.openqa.selenium.JavascriptExecutor) d).executeScript(
      "return document.querySelector('#node-test_node .failures').textContent;")));
    wait.until(d -> "1".equals(d.findElement(By.id("total-recoveries")).getText()));
    // the rate chart has drawn the failure: some red pixel on the canvas
    Object painted = ((org.openqa.selenium.JavascriptExecutor) driver).executeScript(
      "var c=document.getElementById('rate');var d=c.getContext('2d').getImageData(0,0,c.width,c.height).data;"
        + "for(var i=0;i<d.length;i+=4){if(d[i]>150&&d[i+1]<80&&d[i+3]>0)return true;}return false;");
    assertThat(painted).isEqualTo(Boolean.TRUE);
  }
}
