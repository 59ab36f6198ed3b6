/// One optimizer update of a run (see docs/glossary.md), named by its 1-based ordinal.
///
/// A step has two numbers, and this type keeps them apart so that no caller adds or subtracts
/// one by hand:
/// - `ordinal` (1, 2, 3, ...) is how the wire, the logs and the run records name it ("step 3
///   committed"), and the number of steps committed once it commits;
/// - `index` (0, 1, 2, ...) is its position in the run, the number of steps committed before it:
///   what the step plan, the learning-rate schedule and the optimizer are keyed to.
///
/// How many steps are committed is a count, a plain `Int` (0 before the first commit, and the
/// state "after 0 steps" is the initial state); `Step(after:)` is the step that comes next.
public struct Step: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// 1-based: the first step is 1.
    public let ordinal: Int

    /// The step with this 1-based ordinal, as the wire and the records carry it.
    public init(ordinal: Int) {
        precondition(ordinal >= 1, "step ordinal \(ordinal) must be >= 1")
        self.ordinal = ordinal
    }

    /// The step at this 0-based position.
    public init(index: Int) {
        precondition(index >= 0, "step index \(index) must be >= 0")
        self.ordinal = index + 1
    }

    /// The step that comes after `committed` committed steps.
    public init(after committed: Int) {
        self.init(index: committed)
    }

    /// The step with the ordinal a message carries, or nil if it cannot name a step (0, or beyond
    /// `Int`).
    public init?(wire ordinal: UInt64) {
        guard ordinal >= 1, ordinal <= UInt64(Int.max) else { return nil }
        self.ordinal = Int(ordinal)
    }

    /// 0-based: the number of steps before this one.
    public var index: Int { ordinal - 1 }

    /// The ordinal as messages carry it.
    public var wire: UInt64 { UInt64(ordinal) }

    public static let first = Step(ordinal: 1)

    public var next: Step { Step(ordinal: ordinal + 1) }

    /// The step before this one; nil for the first.
    public var previous: Step? { ordinal > 1 ? Step(ordinal: ordinal - 1) : nil }

    public static func < (a: Step, b: Step) -> Bool { a.ordinal < b.ordinal }

    public var description: String { String(ordinal) }
}

extension Step: Codable {
    /// Encoded as its ordinal, a bare integer, as the records write steps.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let ordinal = try container.decode(Int.self)
        guard ordinal >= 1 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "step \(ordinal) is not >= 1")
        }
        self.ordinal = ordinal
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(ordinal)
    }
}
