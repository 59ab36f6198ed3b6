/// Which notice sources a worker watches and how often it asks.
///
/// Every cloud source is off until its endpoint is set, so a worker on a laptop or a plain server
/// never sends a request to an address that means nothing there. The default endpoints below are
/// the documented metadata addresses, for the executable to fill in when a run says it is on
/// that cloud.
public struct PreemptionSettings: Sendable, Equatable {
    public static let defaultAWSEndpoint = "http://169.254.169.254"
    public static let defaultGCPEndpoint = "http://metadata.google.internal"
    public static let defaultAzureEndpoint = "http://169.254.169.254"

    /// EC2 instance metadata, `http://host[:port]`; empty = off.
    public var aws = ""
    /// Compute Engine metadata server; empty = off.
    public var gcp = ""
    /// Azure instance metadata (Scheduled Events); empty = off.
    public var azure = ""
    /// Time between two polls of one source. AWS suggests every 5 s; the shortest notice
    /// (Compute Engine, ~30 s) still leaves most of its time after one interval.
    public var pollInterval: Duration = .seconds(5)
    /// Bound on one HTTP request, connect to last byte. Metadata services answer in milliseconds;
    /// a slow answer is a failed poll, not a stalled watcher.
    public var requestTimeout: Duration = .seconds(2)
    /// Drain time given by SIGTERM, and by sources that announce no time (Compute Engine, an
    /// Azure event without NotBefore). Matches `fault_tolerance.drain_timeout`.
    public var grace: Duration = .seconds(30)
    /// Watch SIGTERM and SIGINT.
    public var signals = true
    /// Compute Engine long-poll length (`wait_for_change`); nil = plain polling.
    public var gcpLongPoll: Duration?
    /// This VM's name in Azure events; nil = read it from the metadata service.
    public var azureResourceName: String?

    public init() {}

    /// The endpoints turned on, parsed; throws naming the first bad value.
    public func validate() throws(PreemptionError) {
        guard pollInterval > .zero else {
            throw PreemptionError(code: "preempt.settings", "preemption poll interval \(pollInterval) must be positive")
        }
        guard requestTimeout > .zero else {
            throw PreemptionError(code: "preempt.settings", "preemption request timeout \(requestTimeout) must be positive")
        }
        guard grace >= .zero else {
            throw PreemptionError(code: "preempt.settings", "preemption grace \(grace) must not be negative")
        }
        if let gcpLongPoll, gcpLongPoll <= .zero {
            throw PreemptionError(code: "preempt.settings", "Compute Engine long-poll \(gcpLongPoll) must be positive")
        }
        _ = try endpoints()
    }

    /// Parsed endpoints of the sources turned on.
    func endpoints() throws(PreemptionError) -> [(source: PreemptionNotice.Source, endpoint: MetadataEndpoint)] {
        var result: [(PreemptionNotice.Source, MetadataEndpoint)] = []
        for (source, text) in [(PreemptionNotice.Source.aws, aws), (.gcp, gcp), (.azure, azure)] where !text.isEmpty {
            result.append((source, try MetadataEndpoint(text, origin: "preemption endpoint '\(source.rawValue)'")))
        }
        return result
    }
}
