import Core

/// Why optimizer settings or restored optimizer state were refused.
public struct OptimError: GroveError, Equatable {
    public enum Kind: String, Sendable {
        /// A hyperparameter outside its range (a negative learning rate, momentum of 1...).
        case invalidSetting = "invalid-setting"
        /// Restored state lacks a tensor this optimizer needs.
        case missingState = "missing-state"
        /// Restored state has a tensor this optimizer does not use: most likely a checkpoint of
        /// another optimizer, which must not be silently mixed in.
        case unexpectedState = "unexpected-state"
        /// A restored tensor has the wrong number of elements for the parameter buffer.
        case stateSize = "state-size"
        /// A restored tensor holds NaN, an infinity, or a negative second moment.
        case stateValue = "state-value"
    }

    public var kind: Kind
    /// The setting (`learningRate`) or state tensor (`adam.v`) at fault.
    public var subject: String
    public var expected: String
    public var found: String

    public init(_ kind: Kind, subject: String, expected: String, found: String) {
        self.kind = kind
        self.subject = subject
        self.expected = expected
        self.found = found
    }

    public var code: String { "optim.\(kind.rawValue)" }
    public var message: String { "optimizer \(subject): expected \(expected), found \(found)" }
}
