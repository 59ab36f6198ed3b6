import Dispatch
import Synchronization

/// A fixed number of worker threads that run independent tasks of one kernel.
///
/// Kernels split work into tasks whose outputs do not overlap and whose boundaries never depend on
/// the thread count; a reduction is never split across tasks. So a kernel gives the same bits with
/// one thread or many: only the wall-clock time changes.
public struct ComputePool: Sendable, Hashable {
    /// How many threads a kernel may use (at least 1).
    public let threads: Int

    /// - Parameter threads: the thread count; values below 1 are raised to 1.
    public init(threads: Int) {
        self.threads = max(1, threads)
    }

    /// One thread: every kernel runs inline on the caller's thread.
    public static let serial = ComputePool(threads: 1)

    /// Runs `body(task)` for every task in `0..<count`, spread over the pool's threads.
    ///
    /// Each thread takes the next task from a shared counter until none is left, so a thread that
    /// the OS preempts (the machine is often shared) leaves its work to the others instead of
    /// holding up the kernel. Tasks must write disjoint memory; which thread runs a task never
    /// changes what it computes. Returns when every task has finished.
    public func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 0 else { return }
        let workers = min(threads, count)
        if workers == 1 {
            for task in 0..<count { body(task) }
            return
        }
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let task = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard task < count else { return }
                body(task)
            }
        }
    }
}

extension ComputePool {
    /// Elements per task of the pointwise kernels: fixed, so task boundaries never depend on the
    /// thread count, and large enough (256 KiB of floats) to outweigh the cost of a task.
    public static let pointwiseChunk = 1 << 16

    /// Runs `body` on consecutive ranges of `0..<count`, `chunk` elements each (the last may be
    /// shorter), spread over the pool's threads.
    public func forEachRange(_ count: Int, chunk: Int = ComputePool.pointwiseChunk, _ body: @Sendable (Range<Int>) -> Void) {
        precondition(chunk > 0, "chunk size \(chunk) must be positive")
        forEach((count + chunk - 1) / chunk) { task in
            body((task * chunk)..<min(count, (task + 1) * chunk))
        }
    }
}

/// A raw pointer that may cross into the pool's tasks.
///
/// Pointers are not `Sendable`; kernels wrap them in this type after arranging that concurrent
/// tasks touch disjoint elements, which is what makes the sharing safe.
public struct SharedPointer<Element>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Element>
    public init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
    public init(_ base: UnsafePointer<Element>) { self.base = UnsafeMutablePointer(mutating: base) }
    @inline(__always) public subscript(index: Int) -> Element {
        get { base[index] }
        nonmutating set { base[index] = newValue }
    }
    @inline(__always) public static func + (pointer: SharedPointer, offset: Int) -> UnsafeMutablePointer<Element> {
        pointer.base + offset
    }
}
