import Foundation
import Model
import Testing
@testable import Training

/// `summary.json` reads back what the coordinator wrote, including a CanopyNet run's tree scores
/// (whose keys are spelled out in snake_case): before, reading it failed, the failure was
/// swallowed, and a finished run was trained over.
@Suite struct RunSummaryTests {
    static func summary(trees: EvaluationReport?) -> RunSummary {
        RunSummary(
            run: "canopy", steps: 150, samples: 2400, lossFirst: 5.1, lossLast: 1.25, weightsSha256: "ab", workersMax: 2,
            generations: 2, wallSeconds: 28.6, reduceMode: "exact", model: "canopy-net", parameters: 122_474,
            datasetHash: "cd", configHash: "ef", resumedFromStep: nil, checkpoint: "step-000150", staleMessages: 0,
            drains: 0, failures: 0, redealtSteps: 0, rejoins: 0,
            goodput: Goodput(committedSteps: 150, committedMicroBatches: 600, committedSamples: 2400, redoneMicroBatches: 0,
                             redoneSamples: 0, goodput: 1, redone: ["coordinator-restart": RedoneByCause(
                                 attempts: 1, microBatches: 4, samples: 16, wallSecondsLost: 0.5, workerSecondsLost: 1)],
                             staleResults: 0, cpuSeconds: 56.6, cpuSecondsPerSample: 0.0236, costPerSample: nil,
                             price: "price not configured"),
            validation: ValidationReport(tiles: 16, loss: 2.12, canopyIou: 0.409, trees: trees))
    }

    /// Built from JSON because its memberwise initialiser is internal to Model.
    static let trees: EvaluationReport = try! JSONDecoder().decode(EvaluationReport.self, from: Data("""
        {"tiles": 16, "canopy_iou": 0.41, "all_background_iou": 0, "all_canopy_iou": 0.3, "true_positives": 40,
         "predicted_trees": 90, "true_trees": 55, "precision": 0.44, "recall": 0.72, "f1": 0.55,
         "count_mean_absolute_error": 3.88, "relative_canopy_area_error": -0.102}
        """.utf8))

    /// Encoded as `CoordinatorRuntime.run` encodes it.
    static func write(_ summary: RunSummary, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(summary).write(to: URL(fileURLWithPath: path))
    }

    @Test(arguments: [true, false])
    func aSummaryReadsBackWhatWasWritten(withTrees: Bool) throws {
        let path = NSTemporaryDirectory() + "grove-summary-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.write(Self.summary(trees: withTrees ? Self.trees : nil), to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        if withTrees { #expect(text.contains("\"canopy_iou\" : 0.41")) }
        let read = try RunSummary.read(from: path)
        #expect(read.steps == 150)
        #expect(read.weightsSha256 == "ab")
        #expect(read.goodput.cpuSecondsPerSample == 0.0236)
        #expect(read.goodput.redone["coordinator-restart"]?.microBatches == 4)
        #expect(read.validation?.canopyIou == 0.409)
        #expect(read.validation?.trees == (withTrees ? Self.trees : nil))
    }

    @Test func anUnreadableSummaryIsAnErrorNamingTheFile() throws {
        let path = NSTemporaryDirectory() + "grove-summary-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("{\"run\": \"canopy\"}".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try RunSummary.read(from: path)
            Issue.record("an incomplete summary was read")
        } catch let error as TrainingError {
            #expect(error.code == "run.summary")
            #expect(error.message.contains(path))
        }
    }
}
