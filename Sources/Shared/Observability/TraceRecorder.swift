import Core
import Foundation
import Synchronization

/// Collects a timeline of the run, per lane (coordinator, each worker), for chrome://tracing and
/// ui.perfetto.dev.
///
/// Cheap when disabled: every recording call first reads one atomic flag and returns; its `args`
/// are an autoclosure, so a disabled recorder builds no dictionary and allocates nothing.
/// Thread-safe: any thread may record. Bounded: after `maxEvents` events, further events are
/// counted in `dropped` and not stored, so a long run cannot grow memory without limit.
public final class TraceRecorder: Sendable {
    /// The instant that becomes time zero in the written trace.
    public let origin: ContinuousClock.Instant
    /// The most events kept in memory.
    public let maxEvents: Int
    /// The process name shown above all lanes (the run's name).
    public let processName: String

    private let enabled: Atomic<Bool>
    private let state: Mutex<State>

    private struct State {
        var events: [TraceEvent] = []
        var tracks: Set<TraceTrack> = []
        var dropped = 0
    }

    /// - Parameters:
    ///   - enabled: whether recording starts on; `isEnabled` can change it later.
    ///   - processName: the title of the timeline's single process.
    ///   - origin: time zero; by default, now.
    ///   - maxEvents: the bound on stored events (a 10-worker run records about 40 a step).
    public init(enabled: Bool = true, processName: String = "grove", origin: ContinuousClock.Instant = .now,
                maxEvents: Int = 1_000_000) {
        self.enabled = Atomic(enabled)
        self.processName = processName
        self.origin = origin
        self.maxEvents = max(0, maxEvents)
        state = Mutex(State())
    }

    public var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }

    /// Records a span from `start` to `end` on `track` (`ph: "X"`).
    ///
    /// - Parameters:
    ///   - category: a filter key in the viewer ("step", "data", "compute", "allreduce", ...).
    ///   - args: details shown when the span is selected; evaluated only if recording is enabled.
    public func span(name: String, category: String = "grove", track: TraceTrack, start: ContinuousClock.Instant,
                     end: ContinuousClock.Instant, args: @autoclosure () -> [String: TraceArgument] = [:]) {
        guard isEnabled else { return }
        let startMicros = micros(start)
        store(TraceEvent(phase: .complete, name: name, category: category, track: track, timestamp: startMicros,
                         duration: max(0, micros(end) - startMicros), args: args()))
    }

    /// Records a point in time on `track` (`ph: "i"`): a membership change, a checkpoint, a fault.
    public func marker(name: String, category: String = "grove", track: TraceTrack, at instant: ContinuousClock.Instant = .now,
                       args: @autoclosure () -> [String: TraceArgument] = [:]) {
        guard isEnabled else { return }
        store(TraceEvent(phase: .instant, name: name, category: category, track: track, timestamp: micros(instant),
                         duration: 0, args: args()))
    }

    /// Runs `body` and records it as a span on `track`.
    public func measure<T>(name: String, category: String = "grove", track: TraceTrack, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = ContinuousClock.now
        defer { span(name: name, category: category, track: track, start: start, end: .now) }
        return try body()
    }

    /// The events recorded so far, in recording order.
    public var events: [TraceEvent] { state.withLock { $0.events } }

    /// Events not stored because `maxEvents` was reached.
    public var dropped: Int { state.withLock { $0.dropped } }

    private func micros(_ instant: ContinuousClock.Instant) -> Double {
        origin.duration(to: instant).inSeconds * 1e6
    }

    private func store(_ event: TraceEvent) {
        state.withLock { state in
            guard state.events.count < maxEvents else {
                state.dropped += 1
                return
            }
            state.events.append(event)
            state.tracks.insert(event.track)
        }
    }

    /// The trace as JSON in the Trace Event Format's object form: `{"traceEvents": [...]}` with
    /// name metadata (`ph: "M"`) for the process and every lane, then the events in time order.
    public func json() -> String {
        let (events, tracks, dropped) = state.withLock { ($0.events, $0.tracks, $0.dropped) }
        var lines: [String] = []
        lines.append(#"{"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":\#(JSONText.quoted(processName))}}"#)
        for track in tracks.sorted(by: { $0.threadID < $1.threadID }) {
            lines.append(#"{"ph":"M","name":"thread_name","pid":1,"tid":\#(track.threadID),"args":{"name":\#(JSONText.quoted(track.name))}}"#)
            lines.append(#"{"ph":"M","name":"thread_sort_index","pid":1,"tid":\#(track.threadID),"args":{"sort_index":\#(track.threadID)}}"#)
        }
        // A stable sort by start keeps the file readable; viewers do not need it.
        let ordered = events.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }
        var out = "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"dropped_events\":\(dropped)},\"traceEvents\":[\n"
        out.reserveCapacity(events.count * 120 + lines.count * 100 + 100)
        out += lines.joined(separator: ",\n")
        for (_, event) in ordered {
            out += ",\n"
            Self.append(event, to: &out)
        }
        return out + "\n]}\n"
    }

    /// Writes `json()` to `path`, atomically (a viewer never sees half a file).
    public func write(to path: String) throws {
        do {
            try json().write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ObservabilityError(.io, "cannot write the trace to \(path): \(error.localizedDescription)")
        }
    }

    private static func append(_ event: TraceEvent, to out: inout String) {
        out += "{\"name\":" + JSONText.quoted(event.name) + ",\"cat\":" + JSONText.quoted(event.category)
        out += ",\"ph\":\"" + event.phase.rawValue + "\",\"ts\":" + micros(event.timestamp)
        if event.phase == .complete { out += ",\"dur\":" + micros(event.duration) }
        if event.phase == .instant { out += ",\"s\":\"t\"" }
        out += ",\"pid\":1,\"tid\":" + String(event.track.threadID)
        if !event.args.isEmpty {
            let args = event.args.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ":" + $0.value.json }
            out += ",\"args\":{" + args.joined(separator: ",") + "}"
        }
        out += "}"
    }

    /// Microseconds with nanosecond resolution, fixed-point so the file has no exponents.
    /// Integer arithmetic rather than `String(format:)`, which dominated writing large traces.
    static func micros(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let nanos = Int64((value * 1000).rounded())
        let magnitude = nanos.magnitude
        let fraction = String(magnitude % 1000)
        return (nanos < 0 ? "-" : "") + String(magnitude / 1000) + "." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
