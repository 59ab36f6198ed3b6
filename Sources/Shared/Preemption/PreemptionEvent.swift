/// What a notice source asks of the worker.
public enum PreemptionEvent: Sendable, Equatable {
    /// Drain: finish or hand back the current lease, report the deadline, leave before it.
    case drain(PreemptionNotice)
    /// Leave now without draining (a second SIGTERM, or SIGINT). The text names the reason.
    case stopNow(String)
}
