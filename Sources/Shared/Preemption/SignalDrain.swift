#if canImport(Glibc)
import Glibc
#endif

/// What signals mean to a worker, without the signal plumbing: the first SIGTERM starts a drain
/// with `grace` to finish, a second SIGTERM or any SIGINT means stop now. Later signals are
/// ignored (the worker is already stopping).
///
/// This follows the service-lifecycle convention: SIGTERM is a polite request from whoever
/// manages the machine (a spot agent, Kubernetes, systemd), SIGINT is a person at a terminal.
public struct SignalDrain: Sendable {
    public let grace: Duration
    public private(set) var draining = false
    public private(set) var stopped = false

    public init(grace: Duration = .seconds(30)) {
        self.grace = grace
    }

    public mutating func onSignal(_ signal: Int32, now: ContinuousClock.Instant) -> PreemptionEvent? {
        if stopped { return nil }
        if signal == SIGTERM && !draining {
            draining = true
            return .drain(PreemptionNotice(source: .signal, deadline: now + grace,
                                           detail: "SIGTERM received; \(Int(grace.inSeconds)) s grace to drain"))
        }
        stopped = true
        return .stopNow(signal == SIGTERM ? "a second SIGTERM arrived while draining" : "signal \(Self.name(signal)) received")
    }

    static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        default: "\(signal)"
        }
    }
}
