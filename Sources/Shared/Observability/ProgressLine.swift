import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one-line progress display of a run:
///
/// ```
/// step 40/100  312.5 samples/s  loss 0.4312  workers 2  gen 3  ETA 0:12
/// ```
///
/// On a terminal the line is redrawn in place (carriage return, then erase to end of line); when
/// stderr is a file or a pipe (a CI log, `2> run.log`) a plain line is written every `logEvery`
/// steps instead, so logs are not flooded with carriage returns. Formatting is pure (`format`,
/// `output`); only `update` and `finish` write.
public final class ProgressLine: Sendable {
    /// What the line shows. Unknown values (no loss yet, no ETA) are printed as `-`.
    public struct Snapshot: Sendable, Equatable {
        public var step: Int
        public var totalSteps: Int
        public var samplesPerSecond: Double?
        public var loss: Double?
        public var workers: Int
        public var generation: UInt64
        public var etaSeconds: Double?

        public init(step: Int, totalSteps: Int, samplesPerSecond: Double?, loss: Double?, workers: Int,
                    generation: UInt64, etaSeconds: Double?) {
            self.step = step
            self.totalSteps = totalSteps
            self.samplesPerSecond = samplesPerSecond
            self.loss = loss
            self.workers = workers
            self.generation = generation
            self.etaSeconds = etaSeconds
        }
    }

    public let fileDescriptor: Int32
    public let isTerminal: Bool
    public let logEvery: Int
    /// Whether an in-place line is on screen (and must be ended before anything else prints).
    private let drawn = Mutex(false)

    /// - Parameters:
    ///   - fileDescriptor: where to write; standard error by default, so stdout stays clean.
    ///   - isTerminal: overrides the `isatty` check (tests, `--progress=plain`).
    ///   - logEvery: the interval, in steps, of plain lines when not on a terminal.
    public init(fileDescriptor: Int32 = STDERR_FILENO, isTerminal: Bool? = nil, logEvery: Int = 10) {
        self.fileDescriptor = fileDescriptor
        self.isTerminal = isTerminal ?? (isatty(fileDescriptor) == 1)
        self.logEvery = max(1, logEvery)
    }

    /// The progress text, without line control characters.
    public static func format(_ s: Snapshot) -> String {
        let rate = s.samplesPerSecond.map { $0.isFinite ? String(format: "%.1f", $0) : "-" } ?? "-"
        let loss = s.loss.map { $0.isFinite ? String(format: "%.4f", $0) : "nan" } ?? "-"
        let eta = s.etaSeconds.map(duration) ?? "-"
        return "step \(s.step)/\(s.totalSteps)  \(rate) samples/s  loss \(loss)  workers \(s.workers)  gen \(s.generation)  ETA \(eta)"
    }

    /// `m:ss` under an hour, `h:mm:ss` from an hour on; `-` for a negative or non-finite value.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        let twoDigits = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(twoDigits(minutes)):\(twoDigits(secs))" : "\(minutes):\(twoDigits(secs))"
    }

    /// Seconds until `remainingSteps` more steps are done at the average pace of the steps done
    /// so far; nil until a step has been timed. Zero once nothing remains.
    public static func eta(remainingSteps: Int, stepsDone: Int, elapsedSeconds: Double) -> Double? {
        if remainingSteps <= 0 { return 0 }
        guard stepsDone > 0, elapsedSeconds.isFinite, elapsedSeconds >= 0 else { return nil }
        return elapsedSeconds / Double(stepsDone) * Double(remainingSteps)
    }

    /// What `update` writes for `snapshot`: the redrawn line on a terminal; on anything else a
    /// plain line at step 1, every `logEvery` steps and at the last step, or nil.
    public static func output(for snapshot: Snapshot, isTerminal: Bool, logEvery: Int) -> String? {
        let text = format(snapshot)
        if isTerminal { return "\r" + text + "\u{1B}[K" }
        let due = snapshot.step == 1 || snapshot.step % max(1, logEvery) == 0 || snapshot.step >= snapshot.totalSteps
        return due ? text + "\n" : nil
    }

    /// Shows `snapshot`.
    public func update(_ snapshot: Snapshot) {
        guard let text = Self.output(for: snapshot, isTerminal: isTerminal, logEvery: logEvery) else { return }
        drawn.withLock { drawn in
            emit(text)
            drawn = isTerminal
        }
    }

    /// Ends an in-place line with a newline, so that what prints next starts on its own line.
    /// Call before logging a message and at the end of the run.
    public func finish() {
        drawn.withLock { drawn in
            if drawn { emit("\n") }
            drawn = false
        }
    }

    private func emit(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(fileDescriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
