import Core
import ObjectStore

/// One key of `cluster.yaml`: where it lives, what it accepts, and how it reads and writes the
/// typed `ClusterConfig`.
///
/// The table of all fields (`ConfigSchema.fields`) is the single source for loading, validation,
/// rendering and the canonical hash, so a key added there is handled by all four.
struct ConfigField: Sendable {
    /// A decoded value, before it is stored in the typed config.
    enum Value: Sendable, Equatable {
        case integer(Int)
        case unsigned(UInt64)
        case number(Double)
        case text(String)
        case flag(Bool)
    }

    /// What the key accepts. The YAML type is checked while decoding; the range while validating,
    /// so that a `--set` can repair an out-of-range value written in the file.
    enum Kind: Sendable {
        case integer(ClosedRange<Int>)
        case unsigned
        case number(NumberRange)
        /// Free text; `allowEmpty` is false for paths and addresses.
        case text(allowEmpty: Bool)
        /// Letters, digits, `-`, `_` and `.` only: safe as a file name and in a log line.
        case name
        /// An address to bind or dial: an IPv4 or IPv6 literal or a host name (`Endpoint`).
        case host
        /// Empty, a host peers can dial (not a wildcard), or `tcp://HOST:PORT` for a port that a
        /// NAT or a container maps to another.
        case advertise
        case choice([String])
        case flag
        /// Empty, or an object store location `s3://BUCKET[/PREFIX]` (`ObjectLocation`).
        case objectLocation
        /// One of the choices, or an object store location.
        case choiceOrLocation([String])
    }

    let section: String
    let key: String
    let kind: Kind
    let get: @Sendable (ClusterConfig) -> Value
    let set: @Sendable (inout ClusterConfig, Value) -> Void

    /// The dotted path as written in YAML and in `--set`.
    var path: String { "\(section).\(key)" }

    /// A description of a valid value, for error messages.
    var expected: String {
        switch kind {
        case let .integer(range):
            if range.upperBound == Int.max { return "an integer >= \(range.lowerBound)" }
            return "an integer in \(range.lowerBound)...\(range.upperBound)"
        case .unsigned: return "an integer in 0...\(UInt64.max)"
        case let .number(range): return range.description
        case .text(allowEmpty: true): return "a string"
        case .text(allowEmpty: false): return "a non-empty string"
        case .name: return "a non-empty name of letters, digits, '-', '_' and '.'"
        case .host: return "an IPv4 or IPv6 address or a host name"
        case .advertise: return "empty, a host name or address peers can dial (not 0.0.0.0 or ::), or tcp://HOST:PORT"
        case let .choice(choices):
            // An empty choice means "not set" (`training.init_optimizer`), never a value to write.
            return "one of " + choices.filter { !$0.isEmpty }.joined(separator: ", ")
        case .flag: return "true or false"
        case .objectLocation: return "empty or s3://BUCKET/PREFIX"
        case let .choiceOrLocation(choices): return "one of " + choices.joined(separator: ", ") + ", or s3://BUCKET/PREFIX"
        }
    }

    /// What exactly is wrong with a value whose range check failed, when there is more to say
    /// than `expected` (which part of an `s3://` location).
    func problemDetail(_ value: Value) -> String? {
        guard case let .text(string) = value else { return nil }
        switch kind {
        case .objectLocation: return ObjectLocation.problem(with: string)
        case .choiceOrLocation: return string.hasPrefix("s3://") ? ObjectLocation.problem(with: string) : nil
        default: return nil
        }
    }

    /// Checks a value's range (not its type). Returns the problem kind, or nil when it is valid.
    func rangeProblem(_ value: Value) -> ConfigError.Kind? {
        switch (kind, value) {
        case let (.integer(range), .integer(int)):
            return range.contains(int) ? nil : .outOfRange
        case let (.number(range), .number(double)):
            return range.contains(double) ? nil : .outOfRange
        case let (.text(allowEmpty), .text(string)):
            return allowEmpty || !string.isEmpty ? nil : .outOfRange
        case let (.name, .text(string)):
            let allowed = string.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || "-_.".unicodeScalars.contains($0)
            }
            return !string.isEmpty && allowed ? nil : .outOfRange
        case let (.host, .text(string)):
            return Endpoint.isValidHost(string) && string != "*" ? nil : .outOfRange
        case let (.advertise, .text(string)):
            if string.isEmpty { return nil }
            let host: String
            if string.hasPrefix("tcp://") {
                guard let endpoint = try? Endpoint.parse(string, origin: path), endpoint.port != 0 else { return .outOfRange }
                host = endpoint.host
            } else {
                guard Endpoint.isValidHost(string) else { return .outOfRange }
                host = string
            }
            return ["*", "0.0.0.0", "::"].contains(host) ? .outOfRange : nil
        case let (.choiceOrLocation(choices), .text(string)):
            if choices.contains(string) { return nil }
            if string.hasPrefix("s3://") { return ObjectLocation.problem(with: string) == nil ? nil : .outOfRange }
            return .unknownValue
        case let (.objectLocation, .text(string)):
            return string.isEmpty || ObjectLocation.problem(with: string) == nil ? nil : .outOfRange
        case let (.choice(choices), .text(string)):
            return choices.contains(string) ? nil : .unknownValue
        default:
            return nil
        }
    }
}

/// An interval of Doubles with open or closed ends; never contains NaN or an infinity.
struct NumberRange: Sendable, CustomStringConvertible {
    var lower: Double
    var lowerInclusive: Bool
    var upper: Double?
    var upperInclusive: Bool

    /// `> 0` when `inclusive` is false, `>= 0` when it is true.
    static func atLeast(_ lower: Double, inclusive: Bool) -> NumberRange {
        NumberRange(lower: lower, lowerInclusive: inclusive, upper: nil, upperInclusive: false)
    }

    /// `[lower, upper]`, or `(lower, upper]` when `lowerInclusive` is false.
    static func between(_ lower: Double, _ upper: Double, lowerInclusive: Bool = true) -> NumberRange {
        NumberRange(lower: lower, lowerInclusive: lowerInclusive, upper: upper, upperInclusive: true)
    }

    /// `[lower, upper)`: for decay rates, which must stay below 1.
    static func halfOpen(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, lowerInclusive: true, upper: upper, upperInclusive: false)
    }

    func contains(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        if lowerInclusive ? value < lower : value <= lower { return false }
        if let upper, upperInclusive ? value > upper : value >= upper { return false }
        return true
    }

    var description: String {
        guard let upper else { return "a finite number \(lowerInclusive ? ">=" : ">") \(lower)" }
        return "a number in \(lowerInclusive ? "[" : "(")\(lower), \(upper)\(upperInclusive ? "]" : ")")"
    }
}
