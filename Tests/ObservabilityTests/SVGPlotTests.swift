import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Observability

/// The chart is well-formed XML (checked with Foundation's XMLParser), has one path per series
/// and readable ticks.
@Suite struct SVGPlotTests {
    /// Collects elements and their attributes while parsing.
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [(name: String, attributes: [String: String])] = []
        /// The content of every `<text>` element; XMLParser delivers it in pieces split at entities.
        var texts: [String] = []
        private var current = ""
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append((name, attributes))
            current = ""
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text" { texts.append(current) }
        }
    }

    func parse(_ svg: String) throws -> Collector {
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = Collector()
        parser.delegate = collector
        let ok = parser.parse()
        try #require(ok, "not well-formed XML: \(String(describing: parser.parserError))")
        return collector
    }

    @Test func drawsOnePathPerSeriesWithLegendAndLabels() throws {
        let train = (1...50).map { (x: Double($0), y: 2.0 / Double($0)) }
        let validation = stride(from: 5, through: 50, by: 5).map { (x: Double($0), y: 2.5 / Double($0)) }
        let svg = SVGPlot.lines(series: [("train <loss>", train), ("validation & co", validation)],
                                title: "Loss \"run 1\"", xLabel: "step", yLabel: "loss")
        let parsed = try parse(svg)
        #expect(parsed.elements.first?.name == "svg")
        #expect(parsed.elements.first?.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        let paths = parsed.elements.filter { $0.name == "path" }
        #expect(paths.count == 2)
        #expect(paths.map { $0.attributes["data-name"] } == ["train <loss>", "validation & co"])
        #expect(paths[0].attributes["d"]?.components(separatedBy: " L").count == 50)
        #expect(paths[1].attributes["stroke"] != paths[0].attributes["stroke"])
        #expect(parsed.texts.first == "Loss \"run 1\"")
        #expect(parsed.texts.contains("train <loss>"))
        #expect(parsed.texts.contains("validation & co"))
        #expect(parsed.texts.contains("step"))
        // x ticks at nice values covering 1...50, y ticks covering 0.04...2.
        for tick in ["0", "10", "20", "30", "40", "50", "0.0", "0.5", "2.0"] { #expect(parsed.texts.contains(tick)) }
        // Self-contained: the namespace is the only URL.
        #expect(!svg.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http"))
    }

    @Test func keepsPointsInsideThePlotArea() throws {
        let svg = SVGPlot.lines(series: [("a", [(0, -3), (10, 7), (20, 1)])], title: "", xLabel: "", yLabel: "", width: 400, height: 300)
        let d = try #require(try parse(svg).elements.first { $0.name == "path" }?.attributes["d"])
        let numbers = d.split(whereSeparator: { "ML ".contains($0) }).compactMap { Double($0) }
        #expect(numbers.count == 6)
        for (i, value) in numbers.enumerated() {
            #expect(value >= 0 && value <= (i % 2 == 0 ? 400 : 300))
        }
    }

    @Test func breaksLinesAtNonFinitePointsAndHandlesEmptyInput() throws {
        let svg = SVGPlot.lines(series: [("a", [(1, 1), (2, .nan), (3, 2), (4, 3)])], title: "t", xLabel: "x", yLabel: "y")
        let d = try #require(try parse(svg).elements.first { $0.name == "path" }?.attributes["d"])
        #expect(d.components(separatedBy: "M").count == 3)
        #expect(!d.contains("nan"))
        let empty = try parse(SVGPlot.lines(series: [], title: "nothing", xLabel: "x", yLabel: "y"))
        #expect(empty.elements.filter { $0.name == "path" }.isEmpty)
        let flat = try parse(SVGPlot.lines(series: [("c", [(5, 2), (5, 2)])], title: "", xLabel: "", yLabel: ""))
        #expect(flat.elements.filter { $0.name == "path" }.count == 1)
    }

    @Test func logScaleSkipsNonPositiveValues() throws {
        let svg = SVGPlot.lines(series: [("a", [(1, 10), (2, 0), (3, 0.01)])], title: "", xLabel: "", yLabel: "loss", logY: true)
        let parsed = try parse(svg)
        let d = try #require(parsed.elements.first { $0.name == "path" }?.attributes["d"])
        #expect(d.components(separatedBy: "M").count == 3)
        #expect(parsed.texts.contains("loss (log)"))
    }

    @Test func ticksAreNiceAndCoverTheData() {
        #expect(SVGPlot.ticks(low: 1, high: 50) == [0, 10, 20, 30, 40, 50])
        #expect(SVGPlot.ticks(low: 0.12, high: 0.93) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        #expect(SVGPlot.ticks(low: -3, high: 7) == [-4, -2, 0, 2, 4, 6, 8])
        let flat = SVGPlot.ticks(low: 5, high: 5)
        #expect(flat.first! < 5 && flat.last! > 5)
        #expect(SVGPlot.label(0.6000000000000001, step: 0.2) == "0.6")
        #expect(SVGPlot.label(-1e-17, step: 0.2) == "0.0")
        #expect(SVGPlot.label(1500, step: 500) == "1500")
    }
}
