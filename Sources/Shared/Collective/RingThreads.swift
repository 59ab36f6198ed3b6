import Foundation

/// Runs one body per ring member, each on its own thread, and collects the results: the shape of
/// every in-process ring test and of the contract suite.
///
/// A thread per member (not a dispatch queue) because members block in `receive`, and a pool the
/// size of the machine's cores would starve the ring.
public enum RingThreads {
    /// Runs `body(rank)` for every rank in `0..<count` concurrently and waits until `deadline`.
    /// Returns each rank's result, or nil for a rank still running at the deadline (its thread is
    /// abandoned; a correct member is bounded by its own receive deadlines and never gets there).
    public static func run<T: Sendable>(
        _ count: Int, until deadline: ContinuousClock.Instant, _ body: @escaping @Sendable (Int) -> T
    ) -> [T?] {
        let results = ResultSlots<T>(count)
        for rank in 0..<count {
            let thread = Thread { results.set(rank, body(rank)) }
            thread.stackSize = 1 << 20
            thread.start()
        }
        return results.wait(until: deadline)
    }

    /// Runs `body(rank)` for every rank and waits for all of them (up to ten minutes, a bound
    /// that only a hung member reaches: it then stops the process naming the rank).
    public static func run<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        let results = run(count, until: .now + .seconds(600), body)
        return results.enumerated().map { rank, result in
            guard let result else { preconditionFailure("ring member \(rank) did not finish within 600 s") }
            return result
        }
    }
}

/// One result slot per thread, filled under a condition variable.
/// `@unchecked Sendable`: `slots` and `filled` are only touched while `condition` is locked.
private final class ResultSlots<T: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var slots: [T?]
    private var filled = 0

    init(_ count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: T) {
        condition.lock()
        slots[index] = value
        filled += 1
        condition.broadcast()
        condition.unlock()
    }

    func wait(until deadline: ContinuousClock.Instant) -> [T?] {
        condition.lock()
        defer { condition.unlock() }
        while filled < slots.count {
            let remaining = deadline - .now
            if remaining <= .zero { break }
            _ = condition.wait(until: Date(timeIntervalSinceNow: remaining.inSeconds))
        }
        return slots
    }
}
