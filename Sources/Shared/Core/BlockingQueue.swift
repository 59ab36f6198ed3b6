import Foundation

/// A FIFO queue between threads: producers `push`, one or more consumers `pop` with a deadline.
///
/// Used where a thread that owns a resource (the socket thread, a decode thread) hands values to
/// blocking code (the ring all-reduce, the training loop). Every wait is bounded.
public final class BlockingQueue<Element: Sendable>: @unchecked Sendable {
    // Invariant: `items`, `head` and `closed` are only touched with `condition` locked.
    private let condition = NSCondition()
    /// Popped slots are set to nil at once, so the queue never keeps a value alive after handing
    /// it out (a ring frame is a megabyte of libzmq's memory until its last reference goes).
    private var items: [Element?] = []
    private var head = 0
    private var closed = false

    public init() {}

    /// Appends a value; returns false (and drops it) when the queue is closed.
    @discardableResult
    public func push(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if closed { return false }
        items.append(item)
        condition.signal()
        return true
    }

    public enum PopResult {
        case item(Element)
        case timedOut
        case closed
    }

    /// The oldest value, waiting until `deadline` at the most. A closed queue still hands out what
    /// it holds before it reports `.closed`.
    public func pop(until deadline: ContinuousClock.Instant) -> PopResult {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count {
            if closed { return .closed }
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return .timedOut }
            _ = condition.wait(until: Date().addingTimeInterval(min(left.inSeconds, 3600)))
        }
        let item = items[head]!
        items[head] = nil
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return .item(item)
    }

    /// The oldest value if there is one, without waiting.
    public func tryPop() -> Element? {
        if case .item(let item) = pop(until: .now) { return item }
        return nil
    }

    /// Wakes every waiter; later pushes are dropped.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    public var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    public var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count - head
    }
}
