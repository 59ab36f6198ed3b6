import Core

/// How a `RingAllReduce` runs (`reduce` and `faultTolerance.collectiveTimeout` in cluster.yaml).
/// Every member of a ring must use the same mode and frame size: frames carry both in their header,
/// and a member that disagrees fails the collective with `CollectiveError.malformed`.
public struct AllReduceSettings: Sendable, Equatable {
    /// The largest frame payload accepted. Bigger frames gain nothing on loopback or TCP (fresh
    /// memory per message) and make the transport's queues coarse.
    public static let maximumFrameBytes = 8 << 20

    /// How gradients are summed. Default `exact`: bitwise identical results for any world size.
    public var mode: ReduceMode
    /// The most payload bytes in one frame (the header adds 48). Default 1 MiB.
    public var frameBytes: Int
    /// Frames a member sends ahead of what it has received within one ring step. Default 4:
    /// enough to keep a link busy, and the bound on frames queued per link.
    public var window: Int
    /// The longest a member waits for any one frame from its previous rank before the collective
    /// fails with `CollectiveError.timeout`. Default 30 s.
    public var timeout: Duration

    public init(mode: ReduceMode = .exact, frameBytes: Int = 1 << 20, window: Int = 4, timeout: Duration = .seconds(30)) {
        self.mode = mode
        self.frameBytes = frameBytes
        self.window = window
        self.timeout = timeout
    }

    /// Throws naming the first setting that is out of range.
    public func validate() throws(InvalidAllReduceSettings) {
        guard frameBytes >= 8 && frameBytes <= Self.maximumFrameBytes else {
            throw InvalidAllReduceSettings(setting: "frameBytes", value: "\(frameBytes)", expected: "8...\(Self.maximumFrameBytes) bytes")
        }
        guard window >= 1 && window <= 64 else {
            throw InvalidAllReduceSettings(setting: "window", value: "\(window)", expected: "1...64 frames")
        }
        guard timeout > .zero else {
            throw InvalidAllReduceSettings(setting: "timeout", value: "\(timeout)", expected: "a positive duration")
        }
    }
}

/// An `AllReduceSettings` value out of range.
public struct InvalidAllReduceSettings: GroveError, Equatable {
    public var setting: String
    public var value: String
    public var expected: String

    public var code: String { "collective.settings" }
    public var message: String { "all-reduce setting \(setting) is \(value), expected \(expected)" }
}
