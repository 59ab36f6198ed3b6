import Foundation

/// A micro-batch gradient that its backward pass completes from the end towards the start, shared
/// with the thread that sums the finished part meanwhile (`RingAllReduce.sum(buckets:...)`).
///
/// The backward pass writes `values` and calls `markFinal(from:)` each time it will write nothing
/// more from that offset to the end; the summing thread copies only elements at or past the
/// offset it was told, so the two never touch the same element at the same time. Whoever computes
/// must end with `markFinal(from: 0)` or `abandon()` (a failed step): until then the summing
/// thread may wait.
///
/// `@unchecked Sendable`: `finalFrom` and `abandoned` are only touched while `condition` is
/// locked, and `values` is written below `finalFrom` and read at or above it (see above).
public final class FinishingGradient: @unchecked Sendable {
    /// The gradient's storage, zero-filled, for the backward pass to add into.
    public let values: UnsafeMutableBufferPointer<Float>
    private let condition = NSCondition()
    private var finalFrom: Int
    private var abandoned = false

    public init(count: Int) {
        values = .allocate(capacity: count)
        values.initialize(repeating: 0)
        finalFrom = count
    }

    deinit { values.deallocate() }

    /// Elements from `offset` to the end will not change any more.
    public func markFinal(from offset: Int) {
        condition.lock()
        finalFrom = min(finalFrom, max(0, offset))
        condition.broadcast()
        condition.unlock()
    }

    /// The backward pass will not finish (its step failed): waiting ends with false.
    public func abandon() {
        condition.lock()
        abandoned = true
        condition.broadcast()
        condition.unlock()
    }

    /// Whether the backward pass ended with every element final.
    public var isComplete: Bool {
        condition.lock()
        defer { condition.unlock() }
        return finalFrom == 0
    }

    /// Waits until elements from `offset` on are final; false if the computation was abandoned
    /// first. Bounded by the caller's own backward pass, which ends in `markFinal(from: 0)` or
    /// `abandon()`.
    func waitFinal(from offset: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while finalFrom > offset && !abandoned { condition.wait() }
        return finalFrom <= offset
    }

    /// A copy of `range`, which must be final.
    func copy(_ range: Range<Int>) -> [Float] {
        Array(UnsafeBufferPointer(rebasing: values[range]))
    }

    /// A copy of the whole gradient once it is complete.
    public func array() -> [Float] {
        precondition(isComplete, "the gradient is not complete")
        return copy(0..<values.count)
    }
}
