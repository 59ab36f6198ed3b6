import Foundation
import Testing
@testable import Observability

/// Writes event files and reads them back: with Grove's own framing check, and with
/// TensorBoard's reader (`EventAccumulator`), which is what `tensorboard --logdir` uses.
@Suite struct TensorBoardWriterTests {
    static let readerScript = #"""
    import json, sys
    from tensorboard.backend.event_processing import event_accumulator
    acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    out = {"file_version": acc.file_version, "scalars": {}}
    for tag in acc.Tags()["scalars"]:
        out["scalars"][tag] = [[e.step, e.value, e.wall_time] for e in acc.Scalars(tag)]
    json.dump(out, sys.stdout)
    """#

    struct Report: Decodable {
        /// EventAccumulator keeps the number after "brain.Event:".
        var file_version: Double?
        var scalars: [String: [[Double]]]
    }

    func writeSample(to directory: String) throws -> TensorBoardWriter {
        let writer = try TensorBoardWriter(directory: directory, host: "testhost", wallTime: 1_700_000_000)
        for step in 1...20 {
            try writer.scalar(tag: "loss/train", value: 1.0 / Double(step), step: step, wallTime: 1_700_000_000 + Double(step))
        }
        try writer.scalars([("throughput/samples_per_second", 312.5), ("cluster/workers", 3)], step: 20, wallTime: 1_700_000_021)
        try writer.scalar(tag: "loss/train", value: -2.25, step: 1_000_000_000_000, wallTime: 1_700_000_022)
        try writer.close()
        return writer
    }

    @Test func namesTheFileAfterTimeAndHostAndFramesEveryRecord() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let writer = try writeSample(to: scratch.path + "/tb")
        #expect(writer.path == scratch.path + "/tb/events.out.tfevents.1700000000.testhost")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: writer.path)))
        let records = try #require(TFRecord.records(in: bytes))
        #expect(records.count == 1 + 20 + 1 + 1)
        #expect(records[0] == TensorBoardEvent.header(wallTime: 1_700_000_000))
        #expect(records[1] == TensorBoardEvent.scalars([("loss/train", 1)], step: 1, wallTime: 1_700_000_001))
        // A second writer in the same second gets its own file instead of clobbering the first.
        let second = try TensorBoardWriter(directory: scratch.path + "/tb", host: "testhost", wallTime: 1_700_000_000)
        #expect(second.path != writer.path)
        try second.close()
    }

    @Test func refusesScalarsAfterClose() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let writer = try TensorBoardWriter(directory: scratch.path, host: "h", wallTime: 1)
        try writer.close()
        try writer.close()
        #expect(throws: ObservabilityError.self) { try writer.scalar(tag: "x", value: 1, step: 1) }
    }

    @Test func flushesOnItsOwnPastTheBufferLimit() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let writer = try TensorBoardWriter(directory: scratch.path, host: "h", wallTime: 1, flushBytes: 200)
        let headerSize = TensorBoardEvent.header(wallTime: 1).count + 16
        #expect(try Data(contentsOf: URL(fileURLWithPath: writer.path)).count == headerSize)
        for step in 0..<10 { try writer.scalar(tag: "loss", value: 1, step: step, wallTime: 2) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: writer.path)).count > headerSize)
        try writer.close()
    }

    @Test(.enabled(if: Python.hasTensorBoard, "python3 with the tensorboard package is not installed (pip install tensorboard)"))
    func tensorBoardReadsTagsStepsAndValues() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        _ = try writeSample(to: scratch.path + "/tb")
        let result = try Python.run(["-c", Self.readerScript, scratch.path + "/tb"])
        try #require(result.status == 0, "TensorBoard's reader failed: \(result.errors)")
        let report = try JSONDecoder().decode(Report.self, from: result.output)
        #expect(report.file_version == 2)
        #expect(Set(report.scalars.keys) == ["loss/train", "throughput/samples_per_second", "cluster/workers"])
        let loss = try #require(report.scalars["loss/train"])
        #expect(loss.map { Int64($0[0]) } == (1...20).map(Int64.init) + [1_000_000_000_000])
        #expect(loss.map { Float($0[1]) } == (1...20).map { Float(1.0 / Double($0)) } + [-2.25])
        #expect(loss.first?[2] == 1_700_000_001)
        #expect(report.scalars["throughput/samples_per_second"]?.first == [20, 312.5, 1_700_000_021])
        #expect(report.scalars["cluster/workers"]?.first?[1] == 3)
    }
}
