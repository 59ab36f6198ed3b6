import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Observability

/// The report's figures say what `summary.json` says: generations counted the same way, step-time
/// shares that add up to 100 %, and the held-out curves from `metrics.jsonl`.
@Suite struct RunReportAgreementTests {
    /// The value cell of the row labelled `label` in the report's table.
    static func row(_ html: String, _ label: String) -> String? {
        guard let start = html.range(of: "<tr><td>\(label)</td><td>") else { return nil }
        return String(html[start.upperBound...].prefix { $0 != "<" })
    }

    /// Two steps where the slowest worker in each phase was a different worker: the phases add
    /// up to more than the step (1.3 s of phases in a 1.2 s step), as in the quick start's
    /// report that showed 102.3 %.
    static let overlapping = [
        StepRecord(step: 1, samples: 16, loss: 1, workers: 2, generation: 2, stepSeconds: 1.2, samplesPerSecond: 13,
                   dataSeconds: 0.1, computeSeconds: 1.0, allReduceSeconds: 0.2, wallSeconds: 2),
        StepRecord(step: 2, samples: 32, loss: 0.5, workers: 2, generation: 2, stepSeconds: 1.0, samplesPerSecond: 16,
                   dataSeconds: 0.05, computeSeconds: 0.6, allReduceSeconds: 0.1, wallSeconds: 3),
    ]

    @Test func stepSharesAddUpToAHundredWhenPhasesOverlap() throws {
        let report = RunReport(run: "r", steps: Self.overlapping)
        let s = report.summary.stepShares
        #expect(abs(s.data + s.compute + s.allReduce + s.other - 100) < 1e-9)
        // Step 1 counts as 1.3 s (its phases), step 2 as 1.0 s with 0.25 s of rest.
        #expect(abs(s.compute - 100 * 1.6 / 2.3) < 1e-9 && abs(s.other - 100 * 0.25 / 2.3) < 1e-9)
        let html = report.html()
        let printed = try ["data", "compute", "all-reduce", "other (coordination, stragglers)"].map { label in
            let cell = try #require(Self.row(html, "step time: \(label)"), "no row for \(label)")
            return try #require(Double(cell.replacingOccurrences(of: " %", with: "")), "\(cell)")
        }
        #expect(abs(printed.reduce(0, +) - 100) < 1e-9, "\(printed)")
    }

    @Test func roundedSharesKeepTheirSum() {
        #expect(RunReport.roundedShares([100.0 / 3, 100.0 / 3, 100.0 / 3]) == [33.4, 33.3, 33.3])
        #expect(RunReport.roundedShares([12.25, 80.05, 7.7]).reduce(0, +) == 100)
        #expect(RunReport.roundedShares([0, 0, 0, 0]) == [0, 0, 0, 0])
        #expect(RunReport.roundedShares([99.96, 0.04]) == [100, 0])
    }

    @Test func generationsAreTheSummarysCountWhenGiven() throws {
        // Generation 1 committed nothing (the second worker joined before the first step): the
        // summary counts 2 generations started, the steps show only generation 2.
        let known = RunReport(run: "r", steps: Self.overlapping, generationsStarted: 2)
        #expect(known.summary.generations == 2 && known.summary.generationsCommitting == 1)
        #expect(Self.row(known.html(), "generations") == "2 (1 with committed steps)")
        let unknown = RunReport(run: "r", steps: Self.overlapping)
        #expect(unknown.summary.generations == 1)
        #expect(Self.row(unknown.html(), "generations") == "1")
    }

    @Test func validationCurvesComeFromTheMetricsLines() throws {
        let directory = NSTemporaryDirectory() + "grove-report-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func line(_ step: Int, _ validation: String?) -> String {
            "{\"step\":\(step),\"samples\":\(16 * step),\"loss\":1,\"workers\":2,\"generation\":2,\"step_seconds\":1,"
                + "\"samples_per_second\":16,\"data_seconds\":0.1,\"compute_seconds\":0.8,\"all_reduce_seconds\":0.1,\"wall_seconds\":\(step)"
                + (validation.map { ",\"validation\":\($0)" } ?? "") + "}"
        }
        func split(_ name: String, _ iou: Double, _ f1: Double) -> String {
            "{\"name\":\"\(name)\",\"tiles\":9,\"loss\":2,\"canopy_iou\":\(iou),\"all_canopy_iou\":0.25,\"trees\":{\"f1\":\(f1),\"canopy_iou\":\(iou)}}"
        }
        let text = [
            line(1, nil),
            line(2, "{\"tiles\":25,\"loss\":2,\"canopy_iou\":0.3,\"trees\":{\"f1\":0.2},\"splits\":[\(split("region", 0.4, 0.3)),\(split("site", 0.1, 0.05))]}"),
            line(3, nil),
            line(4, "{\"tiles\":25,\"loss\":1.5,\"canopy_iou\":0.35,\"trees\":{\"f1\":0.3},\"splits\":[\(split("region", 0.45, 0.5)),\(split("site", 0.12, 0.1))]}"),
        ].joined(separator: "\n") + "\n"
        try text.write(toFile: directory + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let report = try RunReport.load(run: "r", metricsPath: directory + "/metrics.jsonl")
        #expect(report.validation.map(\.step) == [2, 4])
        #expect(report.validation[1].splits.map(\.name) == ["region", "site"])
        #expect(report.validation[1].splits[0].treeF1 == 0.5 && report.validation[0].splits[1].canopyIoU == 0.1)
        let html = report.html()
        #expect(html.contains("Validation canopy IoU") && html.contains("Validation tree F1"))
        #expect(html.contains("site: all canopy"))
        let charts = html.components(separatedBy: "<svg ").dropFirst().map { "<svg " + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
        #expect(charts.count == 6)
        for chart in charts { #expect(XMLParser(data: Data(chart.utf8)).parse()) }
        // Without evaluations the page keeps its four charts.
        #expect(RunReport(run: "r", steps: Self.overlapping).html().components(separatedBy: "<svg ").count - 1 == 4)
    }
}
