import Foundation
import Synchronization

/// The current `RunStatus`, shared between the training loop (which writes it after each
/// commit) and the status server's connection threads (which read it).
///
/// The loss history is bounded: when it reaches `maxHistory` points, every other point is
/// dropped (the first and newest are always kept), so a long run keeps its whole curve at a
/// coarser resolution and `GET /status` stays small.
public final class StatusBoard: Sendable {
    public let maxHistory: Int
    private let state: Mutex<RunStatus>

    public init(run: String, totalSteps: Int, maxHistory: Int = 1000) {
        self.maxHistory = max(4, maxHistory)
        state = Mutex(RunStatus(run: run, totalSteps: totalSteps))
    }

    /// A copy of the current status.
    public var snapshot: RunStatus { state.withLock { $0 } }

    /// Changes any field under the lock.
    public func update(_ body: (inout RunStatus) -> Void) {
        state.withLock { body(&$0) }
    }

    /// Records a committed step: its numbers, a point of the loss curve, and a fresh ETA.
    ///
    /// - Parameters:
    ///   - elapsedSeconds: seconds since the coordinator started.
    ///   - stepsThisRun: steps committed by this invocation (a resumed run counts from its
    ///     checkpoint); the ETA assumes the remaining steps go at their average pace.
    public func recordCommit(step: Int, samples: Int, loss: Double, learningRate: Double?, samplesPerSecond: Double,
                             generation: UInt64, elapsedSeconds: Double, stepsThisRun: Int) {
        state.withLock { status in
            status.phase = .training
            status.step = step
            status.samples = samples
            status.loss = loss.isFinite ? loss : nil
            status.learningRate = learningRate.flatMap { $0.isFinite ? $0 : nil }
            status.samplesPerSecond = samplesPerSecond.isFinite ? samplesPerSecond : nil
            status.generation = generation
            status.elapsedSeconds = elapsedSeconds
            status.etaSeconds = ProgressLine.eta(remainingSteps: status.totalSteps - step, stepsDone: stepsThisRun,
                                                 elapsedSeconds: elapsedSeconds)
            if loss.isFinite {
                status.lossHistory.append(RunStatus.LossPoint(step: step, loss: loss))
                if status.lossHistory.count >= maxHistory { status.lossHistory = Self.thinned(status.lossHistory) }
            }
        }
    }

    /// Every other point, keeping the first and the last.
    static func thinned(_ points: [RunStatus.LossPoint]) -> [RunStatus.LossPoint] {
        guard points.count > 2 else { return points }
        var kept = stride(from: 0, to: points.count - 1, by: 2).map { points[$0] }
        kept.append(points[points.count - 1])
        return kept
    }

    /// The status as JSON with snake_case keys, as served at `GET /status`.
    public func json() -> String {
        Self.json(snapshot)
    }

    static func json(_ status: RunStatus) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Non-finite numbers are kept out of RunStatus by recordCommit; a caller who sets one
        // through update() gets a string rather than a failed response.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let data = try? encoder.encode(status) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
