package dev.tether.tools;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.tether.tools.BenchSummaryTest.RECORDED;
import static dev.tether.tools.BenchSummaryTest.resource;
import static org.assertj.core.api.Assertions.assertThat;

/** BenchChart on recorded results: well-formed SVG with one dot per valid pair and figure. */
class BenchChartTest {

  static final String SVG = "http://www.w3.org/2000/svg";

  static Document parse(String svg) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    return f.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
  }

  static List<Element> elements(Document doc, String name, String cssClass) {
    NodeList nodes = doc.getElementsByTagNameNS(SVG, name);
    List<Element> out = new ArrayList<>();
    for (int i = 0; i < nodes.getLength(); i++) {
      Element e = (Element) nodes.item(i);
      if (List.of(e.getAttribute("class").split(" ")).contains(cssClass)) {
        out.add(e);
      }
    }
    return out;
  }

  @Test
  void theRecordedRunIsDrawnWithADotPerValidPairAndFigure(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("chart.svg");
    BenchChart.main(new String[] {RECORDED.toString(), out.toString(), "1.05", "1.10", "recorded <run> & co"});
    Document doc = parse(Files.readString(out));
    assertThat(doc.getDocumentElement().getLocalName()).isEqualTo("svg");
    // tracked/plain only: w1k 5 valid pairs, w64 2 (as its summary says), two figures each
    assertThat(elements(doc, "circle", "pair")).hasSize((5 + 2) * 2);
    assertThat(elements(doc, "line", "median")).hasSize(4);
    assertThat(elements(doc, "line", "gate")).hasSize(4);
    assertThat(elements(doc, "line", "goal")).isEmpty();
    // dots carry their pair and ratio; the w64 CPU ratios of the summary: 12.70/14.35 and 14.50/14.45
    assertThat(elements(doc, "circle", "pair")).extracting(e -> e.getTextContent().trim())
      .contains("pair 0: 0.885", "pair 1: 1.003");
    assertThat(doc.getDocumentElement().getTextContent()).contains("recorded <run> & co");
  }

  @Test
  void theNettyAnchorAddsTwoColumnsAndTheGoalLines() throws Exception {
    Document doc = parse(BenchChart.svg(BenchResults.read(resource("smoke-epoll.results.txt")), 1.05, 1.10, "smoke"));
    // one workload (w64), one pair: tracked/plain, tracked/netty, plain/netty, two figures each
    assertThat(elements(doc, "circle", "pair")).hasSize(3 * 2);
    assertThat(elements(doc, "line", "median")).hasSize(6);
    assertThat(elements(doc, "line", "gate")).hasSize(2);
    // the CPU goal at every workload, the bytes goal at 1 KiB only
    assertThat(elements(doc, "line", "goal")).hasSize(1);
  }

  @Test
  void aRatioWithoutValidPairsIsSaidNotDrawn() throws Exception {
    Document doc = parse(BenchChart.svg(BenchResults.read(resource("smoke-nio.results.txt")), 1.05, 1.10, "smoke"));
    assertThat(elements(doc, "circle", "pair")).hasSize(2);
    NodeList texts = doc.getElementsByTagNameNS(SVG, "text");
    int none = 0;
    for (int i = 0; i < texts.getLength(); i++) {
      if (texts.item(i).getTextContent().equals("no valid pairs")) {
        none++;
      }
    }
    assertThat(none).isEqualTo(4);
  }

  @Test
  void targetsOfInfoDrawNoTargetLine() throws Exception {
    Document doc = parse(BenchChart.svg(BenchResults.read(RECORDED), Double.NaN, Double.NaN, "session-like"));
    assertThat(elements(doc, "line", "gate")).isEmpty();
    assertThat(elements(doc, "circle", "pair")).hasSize(14);
  }
}
