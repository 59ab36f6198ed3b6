import Core

/// Everything that can go wrong while writing, reading or verifying a checkpoint.
///
/// Every message names the file (or directory) involved and the offending value, so that an
/// operator reading a resume log knows which checkpoint was refused and why.
public struct CheckpointError: GroveError, Equatable {
    /// The class of failure; `code` is derived from it and is stable for scripts.
    public enum Kind: String, Sendable, Equatable {
        /// A safetensors file shorter than its own length fields say.
        case truncated = "safetensors.truncated"
        /// The header is not valid UTF-8 JSON.
        case headerNotJSON = "safetensors.header-not-json"
        /// The header is JSON but not a valid safetensors header (wrong types, missing keys).
        case badHeader = "safetensors.bad-header"
        /// Two tensors (or two keys of one object) share a name.
        case duplicateName = "safetensors.duplicate-name"
        /// Data offsets overlap, leave a gap, or point outside the data section.
        case badOffsets = "safetensors.bad-offsets"
        /// A tensor's shape and dtype do not match its byte count (or its values).
        case sizeMismatch = "safetensors.size-mismatch"
        /// A well-formed tensor of a dtype Grove does not load (only F32 is loaded).
        case unsupportedDType = "safetensors.unsupported-dtype"
        /// A checkpoint directory without a manifest: its write never finished.
        case incomplete = "checkpoint.incomplete"
        /// The manifest is missing a field, has a wrong type, or an unknown format version.
        case badManifest = "checkpoint.bad-manifest"
        /// A file's size or SHA-256 differs from the manifest.
        case checksumMismatch = "checkpoint.checksum-mismatch"
        /// The manifest and the checksummed files disagree about the run's state.
        case inconsistent = "checkpoint.inconsistent"
        /// The caller passed something the store cannot write (bad name, bad setting).
        case invalidInput = "checkpoint.invalid-input"
        /// A system call failed.
        case io = "checkpoint.io"
        /// Checkpoints exist but none of them verifies.
        case noVerifiedCheckpoint = "checkpoint.none-verified"
    }

    public var kind: Kind
    public var message: String
    public var code: String { kind.rawValue }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}
