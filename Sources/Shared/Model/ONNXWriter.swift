/// Protocol-buffer encoding of the ONNX messages an exported graph needs (`onnx.proto`, IR
/// version 8), written by hand so that Grove carries no protobuf dependency.
///
/// Observability has its own encoder for TensorBoard's events; Model cannot import it (Model
/// comes before Observability in the dependency order), and the two need different messages.
/// Repeated scalars are written unpacked, as proto2 (`onnx.proto`'s syntax) does by default;
/// readers accept both forms.
struct ONNXWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// An `int64` or `int32` or enum field (negative values take ten bytes).
    mutating func integer(_ field: Int, _ value: Int) {
        key(field, 0)
        varint(UInt64(bitPattern: Int64(value)))
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ field: Int, _ value: String) { data(field, Array(value.utf8)) }

    mutating func data(_ field: Int, _ value: [UInt8]) {
        key(field, 2)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func message(_ field: Int, _ build: (inout ONNXWriter) -> Void) {
        var nested = ONNXWriter()
        build(&nested)
        data(field, nested.bytes)
    }
}

/// The ONNX vocabulary CanopyNet's export uses: tensors, attributes, nodes, typed graph inputs
/// and outputs, each encoded by its field numbers in `onnx.proto`.
enum ONNX {
    enum ElementType: Int { case float = 1, int64 = 7 }

    /// A constant (initializer): little-endian `raw_data`.
    struct TensorValue {
        var name: String
        var dims: [Int]
        var type: ElementType
        var raw: [UInt8]

        static func floats(_ name: String, _ dims: [Int], _ values: [Float]) -> TensorValue {
            precondition(dims.reduce(1, *) == values.count, "\(name): \(values.count) values for dims \(dims)")
            var raw: [UInt8] = []
            raw.reserveCapacity(values.count * 4)
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
            return TensorValue(name: name, dims: dims, type: .float, raw: raw)
        }

        static func int64s(_ name: String, _ values: [Int]) -> TensorValue {
            var raw: [UInt8] = []
            for value in values { withUnsafeBytes(of: Int64(value).littleEndian) { raw.append(contentsOf: $0) } }
            return TensorValue(name: name, dims: [values.count], type: .int64, raw: raw)
        }

        func encode(_ w: inout ONNXWriter) {
            for dim in dims { w.integer(1, dim) }
            w.integer(2, type.rawValue)
            w.string(8, name)
            w.data(9, raw)
        }
    }

    enum Attribute {
        case int(String, Int)
        case float(String, Float)
        case string(String, String)
        case ints(String, [Int])

        func encode(_ w: inout ONNXWriter) {
            switch self {
            case let .int(name, value): w.string(1, name); w.integer(3, value); w.integer(20, 2)
            case let .float(name, value): w.string(1, name); w.float(2, value); w.integer(20, 1)
            case let .string(name, value): w.string(1, name); w.string(4, value); w.integer(20, 3)
            case let .ints(name, values): w.string(1, name); for v in values { w.integer(8, v) }; w.integer(20, 7)
            }
        }
    }

    struct Node {
        var op: String
        var inputs: [String]
        var outputs: [String]
        var name: String
        var attributes: [Attribute] = []

        func encode(_ w: inout ONNXWriter) {
            for input in inputs { w.string(1, input) }
            for output in outputs { w.string(2, output) }
            w.string(3, name)
            w.string(4, op)
            for attribute in attributes { w.message(5) { attribute.encode(&$0) } }
        }
    }

    /// A float tensor's name and shape; a dimension is a number or a symbolic name.
    struct ValueInfo {
        enum Dim { case value(Int), symbol(String) }
        var name: String
        var dims: [Dim]

        func encode(_ w: inout ONNXWriter) {
            w.string(1, name)
            w.message(2) { type in
                type.message(1) { tensor in
                    tensor.integer(1, ElementType.float.rawValue)
                    tensor.message(2) { shape in
                        for dim in dims {
                            shape.message(1) { d in
                                switch dim {
                                case .value(let v): d.integer(1, v)
                                case .symbol(let s): d.string(2, s)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A whole model: IR version 8, one opset import of the default domain.
    static func model(graphName: String, nodes: [Node], initializers: [TensorValue], inputs: [ValueInfo], outputs: [ValueInfo],
                      opset: Int, producerVersion: String, docString: String, metadata: [(String, String)]) -> [UInt8] {
        var w = ONNXWriter()
        w.integer(1, 8)
        w.string(2, "grove")
        w.string(3, producerVersion)
        w.string(6, docString)
        w.message(7) { g in
            for node in nodes { g.message(1) { node.encode(&$0) } }
            g.string(2, graphName)
            for tensor in initializers { g.message(5) { tensor.encode(&$0) } }
            for input in inputs { g.message(11) { input.encode(&$0) } }
            for output in outputs { g.message(12) { output.encode(&$0) } }
        }
        w.message(8) { o in o.string(1, ""); o.integer(2, opset) }
        for (key, value) in metadata { w.message(14) { e in e.string(1, key); e.string(2, value) } }
        return w.bytes
    }
}
