import Foundation

/// Writes checkpoint snapshots on a thread of its own so the training loop does not wait for
/// the disk.
///
/// Snapshots are written one at a time, in the order submitted; none is dropped. While one is
/// being written, up to `maxPending` more wait in a queue; `submit` blocks only when that queue
/// is full, which bounds memory to `maxPending + 1` snapshots when the disk is slower than the
/// checkpoint interval. A failed write is passed to `onError` (with the step) and the writer goes
/// on with the next snapshot. Both callbacks run on the writer thread, except the report of a
/// snapshot submitted after `close()`, which runs on the submitting thread.
///
/// Call `close()` before dropping the writer: it writes what is queued and stops the thread
/// (the thread keeps the writer alive until then).
///
/// `@unchecked Sendable`: all mutable state is guarded by `condition`.
public final class BackgroundCheckpointWriter: @unchecked Sendable {
    private let store: CheckpointStore
    private let maxPending: Int
    private let onWritten: @Sendable (CheckpointInfo) -> Void
    private let onError: @Sendable (_ step: Int, _ error: any Error) -> Void

    private let condition = NSCondition()
    private var queue: [Checkpoint] = []
    private var writing = false
    private var closed = false
    private var finished = false
    private var thread: Thread?

    /// - Parameters:
    ///   - store: where snapshots are written.
    ///   - maxPending: snapshots allowed to wait behind the one being written (at least 1).
    ///   - onWritten: called after each successful write.
    ///   - onError: called for each failed write, and for snapshots submitted after `close()`.
    public init(
        store: CheckpointStore,
        maxPending: Int = 1,
        onWritten: @escaping @Sendable (CheckpointInfo) -> Void = { _ in },
        onError: @escaping @Sendable (_ step: Int, _ error: any Error) -> Void
    ) {
        precondition(maxPending >= 1, "maxPending must be at least 1, got \(maxPending)")
        self.store = store
        self.maxPending = maxPending
        self.onWritten = onWritten
        self.onError = onError
        let thread = Thread { [self] in run() }
        thread.name = "grove-checkpoint-writer"
        self.thread = thread
        thread.start()
    }

    /// Queues a snapshot for writing. Blocks only while `maxPending` snapshots already wait.
    public func submit(_ checkpoint: Checkpoint) {
        condition.lock()
        while queue.count >= maxPending && !closed { condition.wait() }
        if closed {
            condition.unlock()
            onError(
                checkpoint.metadata.step,
                CheckpointError(.invalidInput, "checkpoint of step \(checkpoint.metadata.step) submitted after the writer was closed")
            )
            return
        }
        queue.append(checkpoint)
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until every submitted snapshot has been written (or has failed).
    public func waitUntilIdle() {
        condition.lock()
        while !queue.isEmpty || writing { condition.wait() }
        condition.unlock()
    }

    /// Writes what is queued, then stops the writer thread. Later submissions are reported to
    /// `onError`. Safe to call more than once.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        while !finished { condition.wait() }
        thread = nil
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while true {
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty { break }
            let next = queue.removeFirst()
            writing = true
            condition.broadcast()
            condition.unlock()
            do {
                let info = try store.write(next)
                onWritten(info)
            } catch {
                onError(next.metadata.step, error)
            }
            condition.lock()
            writing = false
            condition.broadcast()
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
