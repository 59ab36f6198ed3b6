import Core
import Foundation

/// Runs one probe on its own thread: ask, wait an interval, ask again, until a notice arrives or
/// the watcher is stopped.
///
/// Nothing a probe throws leaves the loop: each failure goes to `onProblem` and the next poll
/// tries again, because a metadata service that hiccups once must not blind the worker for the
/// rest of its life. The first notice goes to `onNotice` and ends the loop (a source has nothing
/// more to say after it). A request in flight is not interrupted: `stop()` waits for it up to
/// `stopWait`, then leaves the thread to end on its own; nothing is delivered after `stop()`.
public final class PollingWatcher: @unchecked Sendable {
    public typealias ProblemHandler = @Sendable (PreemptionNotice.Source, PreemptionError) -> Void

    public let source: PreemptionNotice.Source
    let interval: Duration
    let stopWait: Duration
    let onNotice: @Sendable (PreemptionNotice) -> Void
    let onProblem: ProblemHandler

    // Invariant: everything below is only touched with `condition` locked, except `probe`, which
    // belongs to the poll thread once `start()` has handed it over.
    private let condition = NSCondition()
    private var probe: (any PreemptionProbe)?
    private var stopping = false
    private var running = false
    private var pollThread: pthread_t?
    private var pollCount = 0

    /// - Parameters:
    ///   - interval: pause between the end of one poll and the start of the next.
    ///   - stopWait: how long `stop()` waits for a request in flight.
    public init(probe: any PreemptionProbe, interval: Duration, stopWait: Duration = .seconds(5),
                onNotice: @escaping @Sendable (PreemptionNotice) -> Void, onProblem: @escaping ProblemHandler) {
        source = probe.source
        self.probe = probe
        self.interval = interval
        self.stopWait = stopWait
        self.onNotice = onNotice
        self.onProblem = onProblem
    }

    /// Starts polling on a new thread; the first poll happens at once. A second call does nothing.
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard let probe, !stopping else { return }
        self.probe = nil
        running = true
        // The thread ends by itself after a notice, or when `stop()` is called.
        let thread = Thread { [self] in loop(probe) }
        thread.name = "grove-preempt-\(source.rawValue)"
        thread.start()
    }

    /// Asks the loop to end after the current poll, without waiting for it.
    public func requestStop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Ends the loop and waits until its thread is done, at most `stopWait`. Safe to call from
    /// `onNotice` or `onProblem`: on the poll thread itself it does not wait.
    public func stop() {
        let deadline = Date().addingTimeInterval(stopWait.inSeconds)
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        if let pollThread, pthread_equal(pollThread, pthread_self()) != 0 { return }
        while running && condition.wait(until: deadline) {}
    }

    /// How many polls have started; for tests and logs.
    public var polls: Int {
        condition.lock()
        defer { condition.unlock() }
        return pollCount
    }

    /// True from `start()` until the loop has ended.
    public var isRunning: Bool {
        condition.lock()
        defer { condition.unlock() }
        return running
    }

    private func loop(_ initial: any PreemptionProbe) {
        var probe = initial
        condition.lock()
        pollThread = pthread_self()
        condition.unlock()
        defer {
            condition.lock()
            running = false
            condition.broadcast()
            condition.unlock()
        }
        while beginPoll() {
            do {
                let problems = onProblem, source = self.source
                if let notice = try probe.check(now: .now, wallClock: Date(), report: { problems(source, $0) }) {
                    if !isStopping { onNotice(notice) }
                    return
                }
            } catch {
                if !isStopping { onProblem(source, error) }
            }
            pause()
        }
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Counts a poll; false once stopping.
    private func beginPoll() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if stopping { return false }
        pollCount += 1
        return true
    }

    /// Sleeps one interval, or less if `stop()` is called meanwhile.
    private func pause() {
        let deadline = ContinuousClock.now + interval
        condition.lock()
        defer { condition.unlock() }
        while !stopping {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return }
            _ = condition.wait(until: Date().addingTimeInterval(left.inSeconds))
        }
    }
}
