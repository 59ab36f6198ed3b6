import Core
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGTERM and SIGINT into `PreemptionEvent`s (see `SignalDrain` for what each means).
///
/// Signals are read through dispatch signal sources, so no Grove code runs in a signal handler.
/// Dispatch catches each signal with a handler of its own, installed once per process when the
/// first source for it is registered; until then the signal is ignored so that it cannot end
/// the process. `stop()` restores the dispositions from before `start()` and keeps dispatch's
/// handler so a later watcher can put it back (dispatch would not install it a second time).
///
/// The sources live as long as the watcher: a released source silently stops seeing signals.
/// Dispositions are process-wide, so at most one watcher may be active at a time.
public final class SignalWatcher: @unchecked Sendable {
    static let watched: [Int32] = [SIGTERM, SIGINT]
    /// True while some watcher owns the signal dispositions.
    private static let active = Locked(false)

    private let state: Locked<SignalDrain>
    private let onEvent: @Sendable (PreemptionEvent) -> Void
    private let queue = DispatchQueue(label: "grove.preemption.signals")
    /// Marks `queue`, so that `stop()` called from `onEvent` does not wait for itself.
    private let onQueue = DispatchSpecificKey<Bool>()
    // Invariant: `sources` and `previous` are only touched by start() and stop(), which the owner
    // calls from one thread.
    private var sources: [any DispatchSourceSignal] = []
    private var previous: [(signal: Int32, disposition: SignalDisposition)] = []
    /// The handler dispatch installed for each signal, seen by the first watcher that stopped.
    private static let dispatchHandlers = Locked<[Int32: SignalDisposition]>([:])

    /// - Parameters:
    ///   - grace: the time a drain is given after the first SIGTERM; becomes the notice deadline.
    ///   - onEvent: called on a private queue, once per event that `SignalDrain` lets through.
    public init(grace: Duration = .seconds(30), onEvent: @escaping @Sendable (PreemptionEvent) -> Void) {
        state = Locked(SignalDrain(grace: grace))
        self.onEvent = onEvent
        queue.setSpecific(key: onQueue, value: true)
    }

    /// Installs the watcher. When this returns, the dispatch sources are armed: SIGTERM and SIGINT
    /// become events and no longer end the process.
    public func start() throws(PreemptionError) {
        let claimed = Self.active.update { active in
            if active { return false }
            active = true
            return true
        }
        guard claimed else {
            throw PreemptionError(code: "preempt.signal", "another SignalWatcher already handles SIGTERM and SIGINT in this process")
        }
        let saved = Self.dispatchHandlers.value
        let registered = DispatchSemaphore(value: 0)
        for signalNumber in Self.watched {
            previous.append((signalNumber, SignalDisposition.current(signalNumber)))
            // Ignore until dispatch's handler is in place, so a signal in between cannot end the
            // process; dispatch installs its handler once per process, so a later watcher puts
            // back the one an earlier watcher saw.
            (saved[signalNumber] ?? SignalDisposition.ignore).install(signalNumber)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            let state = self.state, onEvent = self.onEvent
            // The handler runs only on `queue`, the one place `data` is read.
            nonisolated(unsafe) let counted = source
            source.setEventHandler { @Sendable in
                // Deliveries that arrive before the handler runs are merged; count each one.
                for _ in 0..<max(1, Int(counted.data)) {
                    if let event = state.update({ $0.onSignal(signalNumber, now: .now) }) { onEvent(event) }
                }
            }
            source.setRegistrationHandler { registered.signal() }
            source.resume()
            sources.append(source)
        }
        // Dispatch registers sources asynchronously, and a signal that arrives before its source is
        // registered is lost: return only once every source is in place.
        let armedBy = DispatchTime.now() + .seconds(5)
        for _ in Self.watched where registered.wait(timeout: armedBy) == .timedOut {
            stop()
            throw PreemptionError(code: "preempt.signal", "dispatch did not register the SIGTERM/SIGINT sources within 5 s")
        }
    }

    /// Cancels the sources and restores the previous dispositions. After this, SIGTERM does what it
    /// did before `start()` (by default, end the process). May be called from `onEvent`.
    public func stop() {
        guard !sources.isEmpty || !previous.isEmpty else { return }
        for source in sources { source.cancel() }
        sources.removeAll()
        if DispatchQueue.getSpecific(key: onQueue) != true {
            queue.sync {}  // let a handler already running finish before the dispositions change
        }
        for (signalNumber, disposition) in previous {
            let current = SignalDisposition.current(signalNumber)
            if !current.isIgnore { Self.dispatchHandlers.update { $0[signalNumber] = current } }
            disposition.install(signalNumber)
        }
        previous.removeAll()
        Self.active.value = false
    }

    deinit { stop() }

    /// The drain state so far (whether a SIGTERM has been seen, whether stop-now was asked).
    public var current: SignalDrain { state.value }
}
