import Foundation
import Testing
@testable import Training

/// `metrics.jsonl` after a rollback: the records of the steps trained again are dropped, and the
/// records that follow reach the file in the run directory.
@Suite struct MetricsFileTests {
    struct Line: Codable { var step: Int }

    @Test func recordsAfterATruncationReachTheFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grove-metrics-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = RunDirectory(path: path, checkpointDirectory: "checkpoints")
        let writer = try JSONLinesWriter(path: directory.metrics)
        for step in 1...5 { try writer.append(Line(step: step)) }
        try writer.truncate(afterStep: 3, in: directory)
        for step in 4...6 { try writer.append(Line(step: step)) }
        writer.close()
        let steps = try String(contentsOfFile: directory.metrics, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode(Line.self, from: Data($0.utf8)).step
        }
        #expect(steps == [1, 2, 3, 4, 5, 6])
    }
}
