import Foundation
import Testing
@testable import Observability

/// The shared status: commits update it, the history stays bounded, JSON and Prometheus views.
@Suite struct StatusBoardTests {
    @Test func recordsCommitsAndEstimatesTheRest() {
        let board = StatusBoard(run: "r", totalSteps: 10)
        #expect(board.snapshot.phase == .waiting)
        #expect(board.snapshot.loss == nil)
        board.recordCommit(step: 4, samples: 128, loss: 0.5, learningRate: 0.1, samplesPerSecond: 64, generation: 2,
                           elapsedSeconds: 8, stepsThisRun: 2)
        let status = board.snapshot
        #expect(status.phase == .training)
        #expect(status.step == 4)
        #expect(status.loss == 0.5)
        #expect(status.etaSeconds == 24)
        #expect(status.lossHistory == [RunStatus.LossPoint(step: 4, loss: 0.5)])
        board.recordCommit(step: 5, samples: 160, loss: .nan, learningRate: nil, samplesPerSecond: .infinity, generation: 2,
                           elapsedSeconds: 9, stepsThisRun: 3)
        #expect(board.snapshot.loss == nil)
        #expect(board.snapshot.samplesPerSecond == nil)
        #expect(board.snapshot.lossHistory.count == 1)
    }

    @Test func thinsTheHistoryButKeepsItsEnds() {
        let board = StatusBoard(run: "r", totalSteps: 10_000, maxHistory: 100)
        for step in 1...10_000 {
            board.recordCommit(step: step, samples: step, loss: Double(step), learningRate: nil, samplesPerSecond: 1,
                               generation: 1, elapsedSeconds: Double(step), stepsThisRun: step)
        }
        let history = board.snapshot.lossHistory
        #expect(history.count < 100)
        #expect(history.count >= 50)
        #expect(history.first?.step == 1)
        #expect(history.last?.step == 10_000)
        #expect(zip(history, history.dropFirst()).allSatisfy { $0.step < $1.step })
    }

    @Test func encodesSnakeCaseJSONWithNulls() throws {
        let board = StatusBoard(run: "r \"1\"", totalSteps: 3)
        board.update { $0.workers = ["up": 1]; $0.checkpointStep = 2 }
        let json = try #require(try JSONSerialization.jsonObject(with: Data(board.json().utf8)) as? [String: Any])
        #expect(json["run"] as? String == "r \"1\"")
        #expect(json["total_steps"] as? Int == 3)
        #expect(json["checkpoint_step"] as? Int == 2)
        #expect(json["workers"] as? [String: Int] == ["up": 1])
        #expect(json["phase"] as? String == "waiting")
        let decoded = try JSONDecoder.snakeCase.decode(RunStatus.self, from: Data(board.json().utf8))
        #expect(decoded == board.snapshot)
    }

    @Test func rendersPrometheusWithoutMissingValues() throws {
        var status = RunStatus(run: "r", totalSteps: 3)
        status.workers = ["up": 2, "joining": 1, "evicted": 4]
        var text = status.prometheus()
        #expect(!text.contains("grove_loss"))
        #expect(text.contains("grove_workers{status=\"up\"} 2\n"))
        #expect(text.contains("grove_workers{status=\"draining\"} 0\n"))
        #expect(text.contains("grove_workers{status=\"evicted\"} 4\n"))
        #expect(text.contains("grove_info{run=\"r\",phase=\"waiting\"} 1\n"))
        status.loss = 0.25
        status.etaSeconds = 7
        text = status.prometheus()
        #expect(text.contains("# TYPE grove_loss gauge\ngrove_loss 0.25\n"))
        #expect(text.contains("grove_eta_seconds 7\n"))
        let parsed = try PrometheusTextTests.parse(text)
        #expect(parsed.types["grove_samples_total"] == "counter")
        #expect(parsed.samples.filter { $0.name == "grove_workers" }.count == 5)
    }
}

extension JSONDecoder {
    static var snakeCase: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
