import Core
import Foundation
import Testing
@testable import Observability

/// The facade end to end on a scratch run directory: commits reach TensorBoard, the board, the
/// status server over HTTP and the timeline; `finish` writes the trace and the report.
@Suite struct RunObserverTests {
    static func record(_ step: Int) -> StepRecord {
        StepRecord(step: step, samples: step * 32, loss: 1 / Double(step), learningRate: 0.01, workers: 2, generation: 1,
                   stepSeconds: 0.5, samplesPerSecond: 64, dataSeconds: 0.1, computeSeconds: 0.3, allReduceSeconds: 0.05,
                   wallSeconds: Double(step) * 0.5, allReduceBytes: 4096,
                   evaluationScalars: step == 5 ? ["tree_f1": 0.25, "canopy_iou": 0.5] : nil)
    }

    @Test func commitsReachEveryOutputAndFinishWritesTraceAndReport() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var settings = RunObserver.Settings()
        settings.statusPort = 0
        settings.progress = false
        settings.pricePerWorkerHour = 1
        let origin = ContinuousClock.now
        let observer = try RunObserver(run: "obs", directory: scratch.path, totalSteps: 10, settings: settings, origin: origin)
        observer.membershipChanged(workers: ["up": 2], generation: 1, note: "generation 1: w0, w1", at: origin)
        var lines = ""
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        for step in 1...5 {
            let dealt = origin + .milliseconds(500 * (step - 1))
            try observer.stepCommitted(Self.record(step), dealtAt: dealt, committedAt: dealt + .milliseconds(500),
                                       workerPhases: [(WorkerID(0), [("data", 0.1), ("compute", 0.3)]), (WorkerID(1), [("data", 0.2)])],
                                       stepsThisRun: step)
            lines += String(decoding: try encoder.encode(Self.record(step)), as: UTF8.self) + "\n"
        }
        observer.checkpointWritten(step: 5)

        let status = observer.board.snapshot
        #expect(status.step == 5)
        #expect(status.checkpointStep == 5)
        #expect(status.etaSeconds == 2.5)
        let url = try #require(observer.statusURL)
        let port = try #require(UInt16(url.split(separator: ":").last ?? ""))
        let metrics = try RawHTTPClient(port: port).get("/metrics")
        #expect(metrics.body.contains("grove_step 5\n"))
        #expect(metrics.body.contains("grove_workers{status=\"up\"} 2\n"))

        try lines.write(toFile: scratch.path + "/metrics.jsonl", atomically: true, encoding: .utf8)
        try observer.finish(phase: .finished, metricsPath: scratch.path + "/metrics.jsonl")
        #expect(observer.board.snapshot.phase == .finished)

        let eventPath = try #require(observer.tensorBoardPath)
        let eventBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: eventPath)))
        let events = try #require(TFRecord.records(in: eventBytes))
        #expect(events.count == 6)
        let expectedScalars: [(tag: String, value: Float)] = [
            ("loss/train", 0.2), ("throughput/samples_per_second", 64), ("time/step_seconds", 0.5), ("time/data_seconds", 0.1),
            ("time/compute_seconds", 0.3), ("time/all_reduce_seconds", 0.05), ("cluster/workers", 2), ("cluster/generation", 1),
            ("optim/learning_rate", 0.01), ("network/all_reduce_bytes", 4096),
            // Evaluations, sorted by name.
            ("eval/canopy_iou", 0.5), ("eval/tree_f1", 0.25),
        ]
        let lastWallTime = try wallTime(of: events[5])
        #expect(events[5] == TensorBoardEvent.scalars(expectedScalars, step: 5, wallTime: lastWallTime))

        let traceData = try Data(contentsOf: URL(fileURLWithPath: observer.tracePath))
        let trace = try #require(try JSONSerialization.jsonObject(with: traceData) as? [String: Any])
        let traceEvents = try #require(trace["traceEvents"] as? [[String: Any]])
        let names = traceEvents.compactMap { $0["ph"] as? String == "M" ? nil : $0["name"] as? String }
        // Per step: the coordinator's span, two phases + a step span for w0, one phase + a step span for w1.
        #expect(names.filter { $0 == "step 3" }.count == 3)
        #expect(names.filter { $0 == "compute" }.count == 5)
        #expect(names.contains("generation 1: w0, w1"))
        #expect(names.contains("checkpoint step 5"))

        let report = try String(contentsOfFile: observer.reportPath, encoding: .utf8)
        #expect(report.contains("<td>steps committed</td><td>5</td>"))
        #expect(report.contains("<td>cost per 1000 samples</td>"))
        // The server is stopped by finish.
        #expect(throws: (any Error).self) { try RawHTTPClient(port: port).get("/status") }
    }

    @Test func disabledOutputsWriteNothing() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var settings = RunObserver.Settings()
        settings.tensorBoard = false
        settings.trace = false
        settings.progress = false
        let observer = try RunObserver(run: "quiet", directory: scratch.path, totalSteps: 2, settings: settings)
        try observer.stepCommitted(Self.record(1), dealtAt: .now, stepsThisRun: 1)
        #expect(observer.statusURL == nil)
        #expect(observer.trace.events.isEmpty)
        #expect(observer.board.snapshot.step == 1)
        try observer.finish(phase: .finished, metricsPath: nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    @Test func refusesBadSettings() {
        var settings = RunObserver.Settings()
        settings.progressEvery = 0
        #expect(throws: ObservabilityError.self) { try settings.validate() }
        settings.progressEvery = 1
        settings.pricePerWorkerHour = -1
        #expect(throws: ObservabilityError.self) { try settings.validate() }
    }

    /// The wall time field of an encoded scalar event (field 1, a little-endian double after the tag byte).
    func wallTime(of event: [UInt8]) throws -> Double {
        try #require(event.first == 0x09)
        let bits = (1...8).reduce(UInt64(0)) { $0 | UInt64(event[$1]) << (8 * UInt64($1 - 1)) }
        return Double(bitPattern: bits)
    }
}
