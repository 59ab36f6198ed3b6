import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Observability

/// The report's arithmetic on hand-made metrics, reading real `metrics.jsonl` lines, and its page.
@Suite struct RunReportTests {
    /// Three commits: two workers wait 2 s for the start; a worker is lost after step 2 and the
    /// re-dealt step 3 commits 3 s after step 2 although it took 1 s itself.
    static let steps = [
        StepRecord(step: 1, samples: 32, loss: 0.9, workers: 2, generation: 1, stepSeconds: 1, samplesPerSecond: 32,
                       dataSeconds: 0.25, computeSeconds: 0.5, allReduceSeconds: 0.125, wallSeconds: 3),
        StepRecord(step: 2, samples: 64, loss: 0.7, workers: 2, generation: 1, stepSeconds: 1, samplesPerSecond: 32,
                       dataSeconds: 0.25, computeSeconds: 0.5, allReduceSeconds: 0.125, wallSeconds: 4),
        StepRecord(step: 3, samples: 96, loss: 0.6, workers: 1, generation: 2, stepSeconds: 1, samplesPerSecond: 32,
                       dataSeconds: 0.25, computeSeconds: 0.5, allReduceSeconds: 0.125, wallSeconds: 7),
    ]

    @Test func splitsPaidWorkerTimeIntoUsefulAndWasted() throws {
        let s = RunReport(run: "r", steps: Self.steps, pricePerWorkerHour: 3.6).summary
        #expect(s.steps == 3)
        #expect(s.samples == 96)
        #expect(s.wallSeconds == 7)
        // Between commits: 3 s x 2 workers, 1 s x 2, 3 s x 1.
        #expect(s.workerSeconds == 11)
        #expect(s.usefulWorkerSeconds == 5)
        #expect(abs(s.efficiency - 5.0 / 11) < 1e-12)
        #expect(abs(s.samplesPerSecond - 96.0 / 7) < 1e-12)
        #expect(s.generations == 2)
        #expect(s.maxWorkers == 2)
        #expect(s.resumes == 0)
        #expect(abs(s.cost! - 0.011) < 1e-12)
        #expect(abs(s.costPerThousandSamples! - 0.011 / 96 * 1000) < 1e-12)
        #expect(s.firstLoss == 0.9 && s.lastLoss == 0.6)
        #expect(s.computeSeconds == 1.5)
    }

    @Test func countsAResumeWhenWallTimeRestarts() {
        var steps = Self.steps
        steps.append(StepRecord(step: 4, samples: 128, loss: 0.5, workers: 2, generation: 1, stepSeconds: 1, samplesPerSecond: 32,
                                    dataSeconds: 0, computeSeconds: 0, allReduceSeconds: 0, wallSeconds: 1.5))
        let s = RunReport(run: "r", steps: steps).summary
        #expect(s.resumes == 1)
        #expect(s.wallSeconds == 8.5)
        #expect(abs(s.samplesPerSecond - 128 / 8.5) < 1e-12)
        #expect(s.cost == nil)
    }

    @Test func emptyRunHasNeutralFigures() {
        let s = RunReport(run: "r", steps: []).summary
        #expect(s.steps == 0)
        #expect(s.efficiency == 1)
        #expect(s.samplesPerSecond == 0)
        #expect(s.firstLoss == nil)
    }

    @Test func readsMetricsLinesAndNamesABadLine() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        // The coordinator's own line format, with fields the report does not read.
        let line = #"{"all_reduce_bytes":1024,"all_reduce_seconds":0.125,"compute_seconds":0.5,"data_epoch":0,"data_seconds":0.25,"generation":1,"learning_rate":0.01,"loss":0.9,"replicas_agreeing":2,"samples":32,"samples_per_second":32,"step":1,"step_seconds":1,"wall_seconds":3,"weights_sha256":"ab","workers":2}"#
        try (line + "\n").write(toFile: scratch.path + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let report = try RunReport.load(run: "r", metricsPath: scratch.path + "/metrics.jsonl")
        var expected = Self.steps[0]
        expected.learningRate = 0.01
        expected.allReduceBytes = 1024
        #expect(report.steps == [expected])
        try (line + "\n{\"step\": 2}\n").write(toFile: scratch.path + "/bad.jsonl", atomically: true, encoding: .utf8)
        let error = #expect(throws: ObservabilityError.self) { try RunReport.load(run: "r", metricsPath: scratch.path + "/bad.jsonl") }
        #expect(error?.message.contains("line 2") == true)
        #expect(throws: ObservabilityError.self) { try RunReport.load(run: "r", metricsPath: scratch.path + "/missing.jsonl") }
    }

    /// Step 3 was first dealt to two workers and abandoned after 1.5 s when one was declared
    /// down; a drain cost another attempt of 0.5 s on one worker.
    static let redone = [
        RedoneWork(step: 3, cause: .failure, generation: 1, microBatches: 8, samples: 32, wallSeconds: 1.5, workers: 2),
        RedoneWork(step: 3, cause: .drain, generation: 2, microBatches: 8, samples: 32, wallSeconds: 0.5, workers: 1),
    ]

    @Test func goodputCountsRedoneWorkByCauseBesideTheCommittedSamples() {
        let s = RunReport(run: "r", steps: Self.steps, redone: Self.redone, cpuSeconds: 19.2).summary
        #expect(s.samples == 96, "redone work does not change what was committed")
        #expect(s.redoneSamples == 64)
        #expect(abs(s.goodput - 96.0 / 160) < 1e-12)
        #expect(s.redone[.failure] == RunReport.Redone(attempts: 1, microBatches: 8, samples: 32, wallSeconds: 1.5, workerSeconds: 3))
        #expect(s.redone[.drain]?.workerSeconds == 0.5)
        #expect(s.redone[.coordinatorRestart] == nil)
        #expect(abs(s.cpuSecondsPerSample! - 0.2) < 1e-12)
        #expect(s.costPerSample == nil)
        let clean = RunReport(run: "r", steps: Self.steps).summary
        #expect(clean.goodput == 1 && clean.redone.isEmpty && clean.cpuSecondsPerSample == nil)
    }

    @Test func readsRedoneLinesBesideTheMetrics() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let metrics = #"{"all_reduce_seconds":0.125,"compute_seconds":0.5,"data_seconds":0.25,"generation":1,"loss":0.9,"samples":32,"samples_per_second":32,"step":1,"step_seconds":1,"wall_seconds":3,"workers":2}"#
        try (metrics + "\n").write(toFile: scratch.path + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let line = #"{"cause":"coordinator-restart","generation":4,"micro_batches":8,"samples":16,"step":2,"wall_seconds":0.25,"workers":2}"#
        try (line + "\n").write(toFile: scratch.path + "/redone.jsonl", atomically: true, encoding: .utf8)
        let report = try RunReport.load(run: "r", metricsPath: scratch.path + "/metrics.jsonl", pricePerWorkerHour: 3.6)
        #expect(report.redone == [RedoneWork(step: 2, cause: .coordinatorRestart, generation: 4, microBatches: 8, samples: 16,
                                             wallSeconds: 0.25, workers: 2)])
        let s = report.summary
        #expect(s.redone[.coordinatorRestart]?.workerSeconds == 0.5)
        #expect(abs(s.costPerSample! - s.cost! / 32) < 1e-15)
        try (line + "\n{\"cause\":\"meteor\"}\n").write(toFile: scratch.path + "/redone.jsonl", atomically: true, encoding: .utf8)
        let error = #expect(throws: ObservabilityError.self) {
            try RunReport.load(run: "r", metricsPath: scratch.path + "/metrics.jsonl")
        }
        #expect(error?.message.contains("redone.jsonl line 2") == true, "\(error?.message ?? "")")
    }

    @Test func pageShowsGoodputAndSaysWhenNoPriceIsSet() {
        let html = RunReport(run: "r", steps: Self.steps, redone: Self.redone).html()
        #expect(html.contains("<td>goodput (committed / computed samples)</td><td>60.0 % (96 committed, 64 redone)</td>"))
        #expect(html.contains("<td>redone: failure</td><td>1 step attempts, 8 micro-batches, 32 samples; 1.50 s wall, 3.00 worker-s lost</td>"))
        #expect(html.contains("price not configured"))
        #expect(html.contains("<td>CPU-seconds per sample</td><td>not measured</td>"))
        let priced = RunReport(run: "r", steps: Self.steps, pricePerWorkerHour: 1).html()
        #expect(priced.contains("<td>redone</td><td>none</td>") && !priced.contains("price not configured"))
    }

    @Test func pageHasTheTableAndFourWellFormedCharts() throws {
        let html = RunReport(run: "canopy <1>", steps: Self.steps, pricePerWorkerHour: 1).html()
        #expect(html.contains("<h1>Run canopy &lt;1&gt;</h1>"))
        #expect(html.contains("<td>useful (inside committed steps)</td><td>45.5 %</td>"))
        #expect(html.contains("<td>cost per 1000 samples</td>"))
        #expect(html.contains("<td>step time: compute</td><td>50.0 %</td>"))
        let charts = html.components(separatedBy: "<svg ").dropFirst().map { "<svg " + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
        #expect(charts.count == 4)
        for chart in charts { #expect(XMLParser(data: Data(chart.utf8)).parse()) }
    }
}
