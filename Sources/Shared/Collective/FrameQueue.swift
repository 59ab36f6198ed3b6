import Foundation

/// A FIFO of frames between two threads, guarded by a lock and a condition variable: the
/// in-process stand-in for one direction of a network connection.
///
/// `@unchecked Sendable`: every stored property is read and written only while `condition` is
/// locked.
final class FrameQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var frames: [[UInt8]] = []
    private var head = 0
    private var closedReason: String?

    /// Appends a frame; throws `.closed` if either end closed the queue.
    func push(_ frame: [UInt8]) throws(CollectiveError) {
        condition.lock()
        defer { condition.unlock() }
        if let closedReason { throw .closed(reason: closedReason) }
        frames.append(frame)
        condition.signal()
    }

    /// Removes the oldest frame, waiting until `deadline` at the most. Frames queued before the
    /// queue was closed are still delivered; after them, `.closed`.
    func pop(until deadline: ContinuousClock.Instant, rank: Int) throws(CollectiveError) -> [UInt8] {
        let start = ContinuousClock.now
        condition.lock()
        defer { condition.unlock() }
        while head == frames.count {
            if let closedReason { throw .closed(reason: closedReason) }
            let remaining = deadline - .now
            if remaining <= .zero { throw .timeout(rank: rank, waited: .now - start) }
            _ = condition.wait(until: Date(timeIntervalSinceNow: remaining.inSeconds))
        }
        let frame = frames[head]
        frames[head] = []
        head += 1
        if head == frames.count {
            frames.removeAll(keepingCapacity: true)
            head = 0
        }
        return frame
    }

    /// Closes the queue and wakes any waiter. The first reason given is kept.
    func close(reason: String) {
        condition.lock()
        defer { condition.unlock() }
        if closedReason == nil { closedReason = reason }
        condition.broadcast()
    }
}
