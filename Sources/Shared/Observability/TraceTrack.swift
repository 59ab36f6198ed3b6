import Core

/// One horizontal lane of the timeline: the coordinator, or one worker.
///
/// In the Trace Event Format a lane is a thread (`tid`) of one process; the coordinator is
/// thread 0 and worker `w` is thread `w + 1`, so lanes sort coordinator first, then by worker id.
public enum TraceTrack: Hashable, Sendable {
    case coordinator
    case worker(WorkerID)

    /// The `tid` of the lane.
    public var threadID: Int {
        switch self {
        case .coordinator: 0
        case .worker(let id): Int(id.rawValue) + 1
        }
    }

    /// The name shown beside the lane ("coordinator", "worker w3").
    public var name: String {
        switch self {
        case .coordinator: "coordinator"
        case .worker(let id): "worker \(id)"
        }
    }
}

/// A value of a trace event's `args`, shown in the viewer's detail pane when a span is selected.
public enum TraceArgument: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral {
    case string(String)
    case int(Int)
    case double(Double)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }

    var json: String {
        switch self {
        case .string(let value): JSONText.quoted(value)
        case .int(let value): String(value)
        case .double(let value): JSONText.number(value)
        }
    }
}

/// One recorded event, times in microseconds since the recorder's origin.
public struct TraceEvent: Sendable, Equatable {
    public enum Phase: String, Sendable {
        /// A span with a start and a duration (`ph: "X"`).
        case complete = "X"
        /// A point in time (`ph: "i"`), drawn as a marker on its lane.
        case instant = "i"
    }

    public var phase: Phase
    public var name: String
    public var category: String
    public var track: TraceTrack
    public var timestamp: Double
    /// Zero for instants; never negative (a span whose end precedes its start is clamped).
    public var duration: Double
    public var args: [String: TraceArgument]
}
