import Core

/// Why a configuration was refused: which key, where it was written, what was expected and what
/// was found.
///
/// The executables print `description` and exit with `ConfigError.exitCode`, so the message is the
/// whole user interface of a mistyped `cluster.yaml`; it always names the key path and the line
/// (or the `--set` argument) it came from.
public struct ConfigError: GroveError, Equatable {
    /// The exit status of an executable that refuses its configuration, distinct from 1 (a failed
    /// run) so that scripts can tell "fix your config" from "the run broke".
    public static let exitCode: Int32 = 2

    public enum Kind: String, Sendable, CaseIterable {
        /// The file could not be read.
        case unreadable
        /// The text is not valid YAML.
        case syntax
        /// The same key appears twice in one mapping.
        case duplicateKey = "duplicate-key"
        /// The document, or a section, is not a mapping of keys to values.
        case notMapping = "not-mapping"
        case unknownSection = "unknown-section"
        case unknownKey = "unknown-key"
        /// A value of the wrong YAML type (a string for an integer, a float for an integer...).
        case wrongType = "wrong-type"
        /// A value of the right type outside its range.
        case outOfRange = "out-of-range"
        /// A name that is not one of the allowed choices (`reduce.mode: fast`).
        case unknownValue = "unknown-value"
        /// Two settings that are each valid but contradict each other.
        case inconsistent
        /// A `--set` argument that is not `section.key=value`.
        case badOverride = "bad-override"
    }

    /// Where a setting came from.
    public enum Origin: Sendable, Equatable, CustomStringConvertible {
        /// Written in a file (as named by the caller), at a 1-based line and column.
        case file(name: String, line: Int, column: Int)
        /// Given on the command line as `--set <argument>`.
        case override(String)
        /// Not written anywhere: the documented default.
        case defaults

        public var description: String {
            switch self {
            case let .file(name, line, _): "\(name) line \(line)"
            case let .override(argument): "--set \(argument)"
            case .defaults: "default value"
            }
        }

        /// The line in the file, if the setting came from one.
        public var line: Int? {
            if case let .file(_, line, _) = self { return line }
            return nil
        }
    }

    public var kind: Kind
    /// The dotted snake_case key path as written in YAML (`training.global_batch`); empty for a
    /// problem with the whole document.
    public var keyPath: String
    public var origin: Origin
    /// What a valid value looks like (`an integer in 1...65535`).
    public var expected: String
    /// What was actually there (`"sixteen" (a string)`).
    public var found: String
    /// A likely intended spelling, for unknown keys and values.
    public var suggestion: String?

    public init(
        _ kind: Kind, keyPath: String, origin: Origin, expected: String, found: String,
        suggestion: String? = nil
    ) {
        self.kind = kind
        self.keyPath = keyPath
        self.origin = origin
        self.expected = expected
        self.found = found
        self.suggestion = suggestion
    }

    public var code: String { "config.\(kind.rawValue)" }

    public var message: String {
        let subject = keyPath.isEmpty ? "" : "\(keyPath): "
        var text = "\(origin): \(subject)expected \(expected), found \(found)"
        if let suggestion { text += "; did you mean `\(suggestion)`?" }
        return text
    }
}
