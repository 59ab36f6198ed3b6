/// Identifiers of the run's vocabulary. Each is a distinct type so that a generation can never be
/// passed where a step is expected (see docs/glossary.md).

/// A worker's identity for the life of a run: assigned by the coordinator at its first welcome.
public struct WorkerID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ value: UInt32) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "w\(rawValue)" }
}

/// One life of a process. A worker that restarts, or comes back after being declared down, has a
/// new incarnation and is treated as a new member.
public struct Incarnation: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    /// A fresh incarnation drawn from the system's random source.
    public static func random() -> Incarnation {
        var generator = SystemRandomNumberGenerator()
        return Incarnation(generator.next() | 1)
    }
    public var description: String { String(rawValue, radix: 16) }
}

/// One membership configuration of a run. Every membership change starts a new generation;
/// messages of an older generation are dropped. Not a data epoch.
public struct Generation: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var next: Generation { Generation(rawValue + 1) }
    public static let none = Generation(0)
    public var description: String { "g\(rawValue)" }
}

/// A fixed slice of a step's global batch: the unit dealt to workers. Its id does not depend on how
/// many workers exist.
public struct MicroBatchID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ value: UInt32) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "mb\(rawValue)" }
}
