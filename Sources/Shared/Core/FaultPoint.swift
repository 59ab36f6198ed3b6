import Foundation

/// Named places in a step where the chaos suite can kill a process, so that a fault lands exactly
/// where it is meant to (mid-forward, mid-all-reduce, mid-checkpoint) instead of wherever a signal
/// from outside happens to arrive.
///
/// A test facility, off unless the environment asks for it:
///
///     GROVE_FAULT_POINT=mid-allreduce GROVE_FAULT_STEP=12 worker --coordinator tcp://...
///
/// kills this process with SIGKILL — no clean-up, no goodbye, like `kill -9` — the first time it
/// reaches `mid-allreduce` at step 12 or later. `GROVE_FAULT_STEP` defaults to 1.
///
/// `GROVE_FAULT_ACTION` makes the fault a gray one instead (`FaultAction`): the process stays
/// alive and keeps heartbeating, but hangs there, lies about its weights, or stops sending to its
/// ring neighbour — what a broken host or a cut link between two workers looks like.
public enum FaultPoint: String, CaseIterable, Sendable {
    // Worker
    /// A lease arrived; nothing of it has run.
    case beforeLease = "before-lease"
    /// Between the first micro-batch's forward pass and its backward pass.
    case midForward = "mid-forward"
    /// Inside the backward pass of the first micro-batch.
    case midBackward = "mid-backward"
    /// After the first all-reduce frame was sent, before the sum is complete.
    case midAllReduce = "mid-allreduce"
    /// The update is applied and reported; the commit has not arrived yet.
    case beforeCommit = "before-commit"
    /// Right after the commit of the step was received.
    case afterCommit = "after-commit"
    // Coordinator
    /// Some of a checkpoint's files are written, its manifest is not.
    case midCheckpoint = "mid-checkpoint"
    /// Every result of the step is in; the commit is not sent yet.
    case coordinatorBeforeCommit = "coordinator-before-commit"
    /// A checkpoint's tensor files are uploaded to object storage, its manifest is not.
    case midUpload = "mid-upload"

    /// The armed point of this process, read once from the environment; nil when none (the usual
    /// case) or when the variable names no known point (reported once on standard error).
    public static let armed: (point: FaultPoint, step: Int, action: FaultAction)? = {
        let environment = ProcessInfo.processInfo.environment
        guard let name = environment["GROVE_FAULT_POINT"], !name.isEmpty else { return nil }
        guard let point = FaultPoint(rawValue: name) else {
            let known = FaultPoint.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("GROVE_FAULT_POINT '\(name)' is not one of \(known); no fault armed\n".utf8))
            return nil
        }
        let step = environment["GROVE_FAULT_STEP"].flatMap { Int($0) } ?? 1
        let name2 = environment["GROVE_FAULT_ACTION"] ?? ""
        guard let action = name2.isEmpty ? .kill : FaultAction(rawValue: name2) else {
            let known = FaultAction.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("GROVE_FAULT_ACTION '\(name2)' is not one of \(known); no fault armed\n".utf8))
            return nil
        }
        return (point, step, action)
    }()

    /// Kills this process at once if `point` is armed for `step` or an earlier one. Costs one
    /// comparison when nothing is armed.
    @inline(__always)
    public static func reached(_ point: FaultPoint, step: Int) {
        guard let armed, armed.point == point, step >= armed.step else { return }
        switch armed.action {
        case .kill:
            FileHandle.standardError.write(Data("fault point \(point.rawValue) reached at step \(step): killing this process\n".utf8))
            kill(getpid(), SIGKILL)
        case .hang:
            FileHandle.standardError.write(Data("fault point \(point.rawValue) reached at step \(step): this thread hangs\n".utf8))
            while true { sleep(3600) }
        case .term:
            // Once: the notice is what is tested, not a storm of them.
            guard !termSent.swap(true) else { return }
            FileHandle.standardError.write(Data("fault point \(point.rawValue) reached at step \(step): sending SIGTERM to this process\n".utf8))
            kill(getpid(), SIGTERM)
        case .lie, .cutRing:
            return  // acted on where the process asks `active`
        }
    }

    private static let termSent = OnceFlag()

    /// Whether the gray fault `action` is armed at `point` for `step`.
    @inline(__always)
    public static func active(_ action: FaultAction, at point: FaultPoint, step: Int) -> Bool {
        guard let armed, armed.point == point, armed.action == action else { return false }
        return step >= armed.step
    }
}

/// What an armed fault point does (`GROVE_FAULT_ACTION`).
public enum FaultAction: String, CaseIterable, Sendable {
    /// SIGKILL, like `kill -9` (the default).
    case kill
    /// The thread that reached the point sleeps forever; the process's other threads (its
    /// heartbeats) go on: a member that is alive but silent on its lease.
    case hang
    /// The worker reports a weights hash that is not its own: a replica that disagrees.
    case lie
    /// The worker's ring sends are dropped from this step on, while its control channel works:
    /// a cut link between two workers whose heartbeats still reach the coordinator.
    case cutRing = "cut-ring"
    /// SIGTERM to this process once, as a preemption notice arriving at exactly that point.
    case term
}

/// A flag set at most once, from any thread.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    /// Sets the flag; returns what it was before.
    func swap(_ new: Bool) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let old = value
        value = new
        return old
    }
}
