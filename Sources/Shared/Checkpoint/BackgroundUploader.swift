import Foundation

/// Uploads written checkpoints to object storage on a thread of its own, so that neither the
/// training loop nor the checkpoint writer ever waits for the network.
///
/// `submit` never blocks. One upload runs at a time; at most one more waits behind it, and a
/// newer checkpoint replaces the one waiting (which is counted in `skipped`): when uploads are
/// slower than the checkpoint interval the remote copy stays at most one upload behind instead of
/// falling further back, and the waiting list cannot grow. A failed upload goes to `onError`
/// and the uploader goes on with the next one; the remote keeps its previous checkpoints,
/// since nothing of the failed one was published.
///
/// `close(timeout:)` finishes the upload in flight and the one waiting (the run's last
/// checkpoint must reach the store before the coordinator exits), then stops the thread.
///
/// `@unchecked Sendable`: all mutable state is guarded by `condition`.
public final class BackgroundUploader: @unchecked Sendable {
    private let remote: RemoteCheckpoints
    private let onUploaded: @Sendable (RemoteCheckpoints.UploadReport) -> Void
    private let onError: @Sendable (_ step: Int, _ error: any Error) -> Void
    private let condition = NSCondition()
    private var waiting: CheckpointInfo?
    private var uploading = false
    private var closed = false
    private var finished = false
    private var skippedCount = 0

    public init(remote: RemoteCheckpoints,
                onUploaded: @escaping @Sendable (RemoteCheckpoints.UploadReport) -> Void = { _ in },
                onError: @escaping @Sendable (_ step: Int, _ error: any Error) -> Void) {
        self.remote = remote
        self.onUploaded = onUploaded
        self.onError = onError
        let thread = Thread { [self] in run() }
        thread.name = "grove-checkpoint-uploader"
        thread.start()
    }

    /// Checkpoints that were replaced by a newer one before their upload started.
    public var skipped: Int {
        condition.lock()
        defer { condition.unlock() }
        return skippedCount
    }

    /// Queues `info` for upload, replacing a checkpoint still waiting. Never blocks.
    public func submit(_ info: CheckpointInfo) {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return }
        if waiting != nil { skippedCount += 1 }
        waiting = info
        condition.broadcast()
    }

    /// Blocks until nothing is waiting or uploading, or `timeout` seconds have passed; returns
    /// whether it is idle.
    @discardableResult
    public func waitUntilIdle(timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while waiting != nil || uploading {
            if !condition.wait(until: deadline) { return waiting == nil && !uploading }
        }
        return true
    }

    /// Uploads what is queued (up to `timeout` seconds), then stops the thread. Returns whether
    /// everything submitted was handled; an upload still running after the timeout goes on in
    /// the background until the process exits (the remote then keeps its previous checkpoints).
    @discardableResult
    public func close(timeout: Double) -> Bool {
        let idle = waitUntilIdle(timeout: timeout)
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
        return idle
    }

    private func run() {
        condition.lock()
        while true {
            while waiting == nil && !closed { condition.wait() }
            guard let next = waiting else { break }
            waiting = nil
            uploading = true
            condition.unlock()
            do {
                onUploaded(try remote.upload(next))
            } catch {
                onError(next.step, error)
            }
            condition.lock()
            uploading = false
            condition.broadcast()
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
