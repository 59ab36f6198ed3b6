/// The shape of a batch of feature maps, in NCHW order.
public struct TensorShape: Hashable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(_ batch: Int, _ channels: Int, _ height: Int, _ width: Int) {
        precondition(batch >= 0 && channels >= 0 && height >= 0 && width >= 0,
                     "tensor shape \(batch)x\(channels)x\(height)x\(width) has a negative dimension")
        self.batch = batch
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// Pixels of one feature map.
    public var plane: Int { height * width }
    /// Floats of one sample.
    public var sampleSize: Int { channels * plane }
    public var count: Int { batch * sampleSize }
    public var description: String { "\(batch)x\(channels)x\(height)x\(width)" }
}

/// A dense Float32 tensor in NCHW layout: `storage[((n * C + c) * H + y) * W + x]`.
///
/// A value type: kernels take tensors and return new ones, so a forward pass keeps every
/// activation it needs for the backward pass without aliasing.
public struct Tensor: Sendable, Equatable {
    public var shape: TensorShape
    public var storage: [Float]

    /// A tensor of zeros.
    public init(zeros shape: TensorShape) {
        self.shape = shape
        self.storage = [Float](repeating: 0, count: shape.count)
    }

    /// A tensor whose elements are not set: for kernels that write every element.
    init(uninitialized shape: TensorShape) {
        self.shape = shape
        self.storage = [Float](unsafeUninitializedCapacity: shape.count) { _, initialized in initialized = shape.count }
    }

    public init(shape: TensorShape, storage: [Float]) {
        precondition(storage.count == shape.count,
                     "tensor of shape \(shape) needs \(shape.count) floats, got \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    public init(shape: TensorShape, _ element: (Int) -> Float) {
        self.init(shape: shape, storage: (0..<shape.count).map(element))
    }

    @inline(__always) public func index(_ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Int {
        ((n * shape.channels + c) * shape.height + y) * shape.width + x
    }

    public subscript(n: Int, c: Int, y: Int, x: Int) -> Float {
        get { storage[index(n, c, y, x)] }
        set { storage[index(n, c, y, x)] = newValue }
    }

    /// Elementwise `self += other`; shapes must match.
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "cannot add a \(other.shape) tensor to a \(shape) tensor")
        storage.withUnsafeMutableBufferPointer { out in
            other.storage.withUnsafeBufferPointer { src in
                for i in 0..<out.count { out[i] += src[i] }
            }
        }
    }
}
