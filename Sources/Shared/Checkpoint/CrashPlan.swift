import Foundation

/// A test hook that stops a checkpoint write after a given number of file-system operations, the
/// way `kill -9` would: nothing is cleaned up, and a file being written keeps only part of its
/// last chunk. Crash-consistency tests run a write once per possible stopping point.
///
/// It models a process crash, not a power cut: data the kernel has accepted stays. The fsyncs
/// that guard against power cuts are checked by reading the protocol, not by this hook.
final class CrashPlan: @unchecked Sendable {
    /// Thrown at the crash point; the store rethrows it without cleaning up.
    struct Crashed: Error {}

    private let lock = NSLock()
    private var remaining: Int

    /// - Parameter operations: how many operations complete before the crash.
    init(after operations: Int) { remaining = operations }

    /// True once the crash has happened.
    var hasCrashed: Bool { lock.withLock { remaining < 0 } }

    /// Counts one operation; throws if the crash point is reached.
    func pass() throws {
        let crash = lock.withLock { () -> Bool in
            remaining -= 1
            return remaining < 0
        }
        if crash { throw Crashed() }
    }
}
