import Foundation

/// A value shared between threads behind a lock. For small state (a counter, a flag) read and
/// written whole; anything larger belongs to one thread.
public final class Locked<Value: Sendable>: @unchecked Sendable {
    // Invariant: `stored` is only touched with `lock` held.
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    public var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }

    /// Reads and writes under one lock.
    @discardableResult
    public func update<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&stored)
    }
}
