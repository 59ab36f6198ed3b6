/// One named float32 tensor: the unit a checkpoint and a safetensors file store.
///
/// Values are row-major (the last dimension varies fastest), as safetensors and NumPy expect.
/// A shape of `[]` is a scalar holding one value; a shape with a zero dimension holds none.
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }

    /// The number of elements the shape describes, or nil if a dimension is negative or the
    /// product overflows `Int`.
    public var shapeElementCount: Int? { Self.elementCount(of: shape) }

    static func elementCount(of shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }
}
