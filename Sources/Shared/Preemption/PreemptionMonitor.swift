import Core
import Foundation

/// Every configured notice source behind one interface: the worker asks "has anyone said we are
/// being preempted?" between steps, or blocks on `next(until:)`.
///
/// The first drain notice is delivered once, from whichever source saw it first; later notices
/// from other sources are duplicates and dropped. Stop-now (second SIGTERM, SIGINT) is delivered
/// once as well. Cloud watchers stop polling after the first drain; the signal watcher keeps
/// listening so that stop-now still works while draining.
///
/// `start()` and `stop()` belong to the owner's thread; the callbacks may call `stop()` too.
public final class PreemptionMonitor: @unchecked Sendable {
    public let settings: PreemptionSettings
    let client: any MetadataClient
    let onEvent: (@Sendable (PreemptionEvent) -> Void)?
    let onProblem: PollingWatcher.ProblemHandler

    private let latch = Locked(PreemptionLatch())
    private let events = BlockingQueue<PreemptionEvent>()
    /// Read by `deliver` on watcher threads while the owner starts and stops them.
    private let watchers = Locked<[PollingWatcher]>([])
    // Invariant: `started`, `signals` and `endpoints` are set by start() and cleared by stop(),
    // both called by the owner from one thread (or stop() from a callback, after start()).
    private var started = false
    private var signals: SignalWatcher?
    private var endpoints: [PreemptionNotice.Source: MetadataEndpoint] = [:]

    /// - Parameters:
    ///   - client: how HTTP requests are sent; tests may pass a fake.
    ///   - onEvent: called once per delivered event, on a watcher's thread, after the event is
    ///     queued for `next` (so a callback that stops the monitor loses nothing).
    ///   - onProblem: every failed poll (log it); never stops a watcher.
    public init(settings: PreemptionSettings, client: any MetadataClient = SocketHTTPClient(),
                onEvent: (@Sendable (PreemptionEvent) -> Void)? = nil,
                onProblem: @escaping PollingWatcher.ProblemHandler = { _, _ in }) {
        self.settings = settings
        self.client = client
        self.onEvent = onEvent
        self.onProblem = onProblem
    }

    /// Validates the settings, installs the signal watcher (if enabled) and starts one poll thread
    /// per cloud endpoint.
    public func start() throws(PreemptionError) {
        guard !started else {
            throw PreemptionError(code: "preempt.state", "the preemption monitor was already started")
        }
        try settings.validate()
        started = true
        // Weak: the watchers must not keep a monitor alive that its owner has let go.
        let deliver: @Sendable (PreemptionEvent) -> Void = { [weak self] event in self?.deliver(event) }
        if settings.signals {
            let watcher = SignalWatcher(grace: settings.grace, onEvent: deliver)
            do {
                try watcher.start()
            } catch {
                started = false
                throw error
            }
            signals = watcher
        }
        var created: [PollingWatcher] = []
        for (source, endpoint) in try settings.endpoints() {
            endpoints[source] = endpoint
            created.append(PollingWatcher(probe: probe(for: source, endpoint), interval: settings.pollInterval,
                                          stopWait: settings.requestTimeout + .seconds(1),
                                          onNotice: { deliver(.drain($0)) }, onProblem: onProblem))
        }
        watchers.value = created
        for watcher in created { watcher.start() }
    }

    func probe(for source: PreemptionNotice.Source, _ endpoint: MetadataEndpoint) -> any PreemptionProbe {
        switch source {
        case .aws:
            AWSSpotProbe(endpoint: endpoint, client: client, timeout: settings.requestTimeout)
        case .gcp:
            GCEPreemptedProbe(endpoint: endpoint, client: client, timeout: settings.requestTimeout,
                              grace: settings.grace, longPoll: settings.gcpLongPoll)
        case .azure:
            AzureScheduledEventsProbe(endpoint: endpoint, client: client, timeout: settings.requestTimeout,
                                      grace: settings.grace, resourceName: settings.azureResourceName)
        case .signal:
            preconditionFailure("signals are watched by SignalWatcher, not polled")
        }
    }

    private func deliver(_ event: PreemptionEvent) {
        guard let passed = latch.update({ $0.on(event) }) else { return }
        if case .drain = passed {
            for watcher in watchers.value { watcher.requestStop() }
        }
        events.push(passed)
        onEvent?(passed)
    }

    /// The next event, waiting until `deadline` at the most; nil if none came (or after `stop()`).
    public func next(until deadline: ContinuousClock.Instant) -> PreemptionEvent? {
        if case .item(let event) = events.pop(until: deadline) { return event }
        return nil
    }

    /// The drain notice, once one has been delivered; cheap enough to check at every step.
    public var notice: PreemptionNotice? { latch.value.notice }

    /// True once a stop-now was delivered.
    public var stopRequested: Bool { latch.value.stopReason != nil }

    /// Tells the source the worker has drained and the machine may go. Only Azure takes an
    /// acknowledgement (it then evicts without waiting for NotBefore); other notices need none.
    public func acknowledge(_ notice: PreemptionNotice) throws(PreemptionError) {
        guard notice.source == .azure, let eventID = notice.eventID else { return }
        guard let endpoint = endpoints[.azure] else {
            throw PreemptionError(code: "preempt.settings", "cannot acknowledge Azure event \(eventID): no Azure endpoint is configured")
        }
        try AzureScheduledEventsProbe.acknowledge(eventID: eventID, endpoint: endpoint, client: client,
                                                  timeout: settings.requestTimeout)
    }

    /// Stops every watcher (waiting for a request in flight at most the request timeout plus a
    /// second) and restores signal handling.
    /// Blocked `next` calls return nil.
    public func stop() {
        let running = watchers.update { list in
            defer { list.removeAll() }
            return list
        }
        for watcher in running { watcher.requestStop() }
        for watcher in running { watcher.stop() }
        signals?.stop()
        signals = nil
        events.close()
    }

    deinit { stop() }
}
