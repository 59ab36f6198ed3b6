import Core
import Dataset

/// Where each named tensor lives in a model's one flat parameter buffer.
///
/// The all-reduce sums that buffer, checkpoints store it tensor by tensor in this order, and the
/// weights hash covers it as little-endian float32 in this order.
public struct ParameterLayout: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var entries: [Entry] = []
    public private(set) var count = 0

    public init() {}

    /// Appends a tensor and returns its offset in the flat buffer.
    @discardableResult
    public mutating func add(_ name: String, _ shape: [Int]) -> Int {
        precondition(!entries.contains { $0.name == name }, "duplicate parameter \(name)")
        let entry = Entry(name: name, shape: shape, offset: count)
        entries.append(entry)
        count += entry.count
        return entry.offset
    }

    public subscript(name: String) -> Entry? { entries.first { $0.name == name } }

    /// A canonical text of names and shapes in order: two models agree on parameters exactly when
    /// their descriptions are equal.
    public var canonicalDescription: String {
        entries.map { "\($0.name):\($0.shape.map(String.init).joined(separator: "x"))" }.joined(separator: ";")
    }
}

/// The per-sample results of a forward and backward pass over a micro-batch.
public struct BatchLoss: Sendable, Equatable {
    /// The loss of each sample, in the order the samples were given.
    public var perSample: [Float]
    public var sum: Float { perSample.reduce(0, +) }

    public init(perSample: [Float]) { self.perSample = perSample }
}

/// A model that workers can train: a fixed parameter layout, a seeded initialisation, and a
/// deterministic forward and backward pass.
///
/// Determinism is the contract: the same parameters and samples give the same loss and gradient
/// bits, whatever the thread count.
public protocol TrainableModel: Sendable {
    /// The model's name and configuration (`pixel-mlp(hidden: 32)`), part of the schema hash.
    var schemaName: String { get }
    var layout: ParameterLayout { get }
    /// Image bands every sample must have.
    var inputBands: Int { get }
    /// Fresh parameters from a seed.
    func initialParameters(seed: UInt64) -> [Float]
    /// Runs forward and backward over `samples`, adds the gradient of the summed loss into
    /// `gradient` (same layout as `parameters`) and returns each sample's loss.
    ///
    /// `forwardEnded` is called once, when the forward pass of the first sample is done and its
    /// backward pass has not started: the boundary a timeline or a fault point needs. A model
    /// that runs the whole batch forward before any backward (CanopyNet) calls it between the
    /// two; one that interleaves them per pixel (the pixel MLP) calls it after the first pixel's
    /// forward.
    func accumulateGradient(
        parameters: UnsafeBufferPointer<Float>, samples: [Tile], into gradient: UnsafeMutableBufferPointer<Float>,
        forwardEnded: () -> Void
    ) -> BatchLoss
    /// Where the backward pass completes the gradient, in the order it does: offsets into the flat
    /// buffer, decreasing, from which to the end the gradient is final once the backward has
    /// reached them (`accumulateGradient(...finalFrom:)` reports each). Empty for a model that
    /// reports nothing: its gradient is final when `accumulateGradient` returns. Default: empty.
    var gradientSuffixes: [Int] { get }
    /// `accumulateGradient`, also calling `finalFrom(offset)` for each offset of
    /// `gradientSuffixes` in turn, as soon as the backward pass will add nothing more to
    /// `gradient[offset...]`: a ring can sum that part while the backward goes on. The gradient
    /// and the loss are the same bits as without the calls. Default: no calls.
    func accumulateGradient(
        parameters: UnsafeBufferPointer<Float>, samples: [Tile], into gradient: UnsafeMutableBufferPointer<Float>,
        forwardEnded: () -> Void, finalFrom: (Int) -> Void
    ) -> BatchLoss
}

extension TrainableModel {
    public var gradientSuffixes: [Int] { [] }

    public func accumulateGradient(
        parameters: UnsafeBufferPointer<Float>, samples: [Tile], into gradient: UnsafeMutableBufferPointer<Float>,
        forwardEnded: () -> Void, finalFrom: (Int) -> Void
    ) -> BatchLoss {
        accumulateGradient(parameters: parameters, samples: samples, into: gradient, forwardEnded: forwardEnded)
    }
}

extension TrainableModel {
    /// `accumulateGradient` without a forward-boundary observer.
    public func accumulateGradient(
        parameters: UnsafeBufferPointer<Float>, samples: [Tile], into gradient: UnsafeMutableBufferPointer<Float>
    ) -> BatchLoss {
        accumulateGradient(parameters: parameters, samples: samples, into: gradient, forwardEnded: {})
    }
}

extension TrainableModel {
    /// A hash of the model's name and parameter layout: a worker whose schema hash differs from the
    /// coordinator's is refused at join.
    public var schemaHash: UInt64 {
        let digest = SHA256.hash(Array((schemaName + "|" + layout.canonicalDescription).utf8))
        return digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
