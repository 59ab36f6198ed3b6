import Core

/// A snapshot of a training run: its ledger position and every tensor needed to continue.
///
/// Parameters are named `param/<name>` and optimizer state `optim/<name>`; the store writes the
/// first to `weights.safetensors` and the second to `optimizer.safetensors`, each in the order
/// given here. Parameters in model layout order concatenate to the model's flat parameter
/// buffer, so `weightsSHA256` of the checkpoint equals `Checkpoint.weightsSHA256(buffer)`.
public struct Checkpoint: Sendable, Equatable {
    public static let parameterPrefix = "param/"
    public static let optimizerPrefix = "optim/"

    public var metadata: CheckpointMetadata
    public var tensors: [NamedTensor]

    public init(metadata: CheckpointMetadata, tensors: [NamedTensor]) {
        self.metadata = metadata
        self.tensors = tensors
    }

    /// The `param/` tensors, in order.
    public var parameters: [NamedTensor] { tensors.filter { $0.name.hasPrefix(Self.parameterPrefix) } }

    /// The `optim/` tensors, in order.
    public var optimizerState: [NamedTensor] { tensors.filter { $0.name.hasPrefix(Self.optimizerPrefix) } }

    public func tensor(named name: String) -> NamedTensor? { tensors.first { $0.name == name } }

    /// The values of every tensor whose name starts with `prefix`, concatenated in order: with
    /// `parameterPrefix` this rebuilds a model's flat parameter buffer.
    public func flatValues(prefix: String) -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(tensors.reduce(0) { $0 + ($1.name.hasPrefix(prefix) ? $1.values.count : 0) })
        for tensor in tensors where tensor.name.hasPrefix(prefix) { values.append(contentsOf: tensor.values) }
        return values
    }

    /// Cuts a flat buffer into named tensors, in order: how a model's parameter buffer (or an
    /// optimizer's state buffer of the same layout) becomes checkpoint tensors. Each name gets
    /// `prefix` in front. The inverse is `flatValues(prefix:)`.
    ///
    /// - Throws: `.sizeMismatch` when the shapes do not add up to exactly `flat.count` values.
    public static func tensors(
        prefix: String, slicing flat: [Float], into entries: [(name: String, shape: [Int])]
    ) throws -> [NamedTensor] {
        var tensors: [NamedTensor] = []
        var offset = 0
        for entry in entries {
            guard let count = NamedTensor.elementCount(of: entry.shape), count <= flat.count - offset else {
                throw CheckpointError(
                    .sizeMismatch,
                    "\(prefix)\(entry.name) of shape \(entry.shape) does not fit the \(flat.count - offset) values left of \(flat.count)"
                )
            }
            tensors.append(NamedTensor(name: prefix + entry.name, shape: entry.shape, values: Array(flat[offset..<(offset + count)])))
            offset += count
        }
        guard offset == flat.count else {
            throw CheckpointError(.sizeMismatch, "the shapes of \(prefix)* cover \(offset) values but the buffer holds \(flat.count)")
        }
        return tensors
    }

    /// The SHA-256 of the parameters (the `param/` tensors in order) as little-endian float32.
    public var weightsSHA256: String {
        var hasher = SHA256()
        for tensor in parameters { tensor.values.withUnsafeBufferPointer { hasher.update(floats: $0) } }
        return hasher.finalize().hexString
    }

    /// The SHA-256 of a flat parameter buffer as little-endian float32, lower-case hex.
    ///
    /// Two replicas hold bitwise-identical weights exactly when these agree; run summaries report
    /// it as `weights_sha256`, and checkpoint manifests record it for the `param/` tensors.
    public static func weightsSHA256(_ parameters: UnsafeBufferPointer<Float>) -> String {
        var hasher = SHA256()
        hasher.update(floats: parameters)
        return hasher.finalize().hexString
    }

    /// Checks what the store relies on: every name has a known prefix and is unique, and every
    /// tensor's values fill its shape.
    func validate() throws {
        var names = Set<String>()
        for tensor in tensors {
            guard tensor.name.hasPrefix(Self.parameterPrefix) || tensor.name.hasPrefix(Self.optimizerPrefix) else {
                throw CheckpointError(
                    .invalidInput,
                    "checkpoint of step \(metadata.step): tensor \"\(tensor.name)\" is named neither param/... nor optim/..."
                )
            }
            guard names.insert(tensor.name).inserted else {
                throw CheckpointError(.duplicateName, "checkpoint of step \(metadata.step): tensor \"\(tensor.name)\" appears twice")
            }
            guard tensor.shapeElementCount == tensor.values.count else {
                throw CheckpointError(
                    .sizeMismatch,
                    "checkpoint of step \(metadata.step): tensor \"\(tensor.name)\" has shape \(tensor.shape) but \(tensor.values.count) values"
                )
            }
        }
        for (field, value) in [("step", metadata.step), ("data epoch", metadata.dataEpoch), ("ledger position", metadata.ledgerPosition)]
        where value < 0 {
            throw CheckpointError(.invalidInput, "checkpoint of step \(metadata.step): \(field) \(value) is negative")
        }
    }
}
