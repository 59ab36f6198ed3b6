import Core
import Foundation

/// Held-out evaluations, run on a thread of their own so that the coordinator's event loop keeps
/// answering heartbeats and results while a large validation set is scored. Evaluations run one at
/// a time, in the order submitted; `finished` hands back the ones that are done.
final class EvaluationQueue: @unchecked Sendable {
    private let queue = DispatchQueue(label: "grove.coordinator.evaluation", qos: .utility)
    private let done = Locked<[(step: Int, report: ValidationReport?)]>([])
    private let outstanding = Locked(0)
    private let setup: RunSetup

    init(setup: RunSetup) { self.setup = setup }

    /// Scores `state` (the replica after `step` committed steps; a copy, so the loop may go on).
    func submit(step: Int, state: Replica) {
        outstanding.update { $0 += 1 }
        let setup = self.setup, done = self.done, outstanding = self.outstanding
        queue.async {
            let report = Validation.measure(setup: setup, state: state)
            done.update { $0.append((step, report)) }
            outstanding.update { $0 -= 1 }
        }
    }

    /// Evaluations submitted and not yet taken with `finished`.
    var pending: Int { outstanding.value + done.value.count }

    /// The evaluations completed since the last call, in step order.
    func finished() -> [(step: Int, report: ValidationReport?)] {
        done.update { items in
            defer { items.removeAll() }
            return items
        }
    }

    /// Waits until every submitted evaluation has completed, up to `deadline`.
    func waitUntilIdle(until deadline: ContinuousClock.Instant) {
        while outstanding.value > 0 && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }
}
