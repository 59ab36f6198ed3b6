/// Lets the first drain and the first stop-now through, once each, whichever source they come
/// from; everything after is a duplicate. A drain after stop-now is dropped too: the worker is
/// already leaving.
struct PreemptionLatch: Sendable {
    private(set) var notice: PreemptionNotice?
    private(set) var stopReason: String?

    mutating func on(_ event: PreemptionEvent) -> PreemptionEvent? {
        switch event {
        case .drain(let notice):
            guard self.notice == nil, stopReason == nil else { return nil }
            self.notice = notice
        case .stopNow(let reason):
            guard stopReason == nil else { return nil }
            stopReason = reason
        }
        return event
    }
}
