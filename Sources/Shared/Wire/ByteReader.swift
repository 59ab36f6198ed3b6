/// Reads little-endian fields from a received frame, checking every length against what is left
/// before reading, and every count against the bytes that would have to follow before allocating:
/// a hostile count can never make the reader allocate more than the frame itself holds.
public struct ByteReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int
    /// What is being decoded, for error messages (`lease`, `join`).
    public var context: String

    public init(_ bytes: [UInt8], offset: Int = 0, context: String) {
        self.bytes = bytes
        self.offset = offset
        self.context = context
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func u8(_ field: String) throws(WireError) -> UInt8 {
        try need(1, field)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u16(_ field: String) throws(WireError) -> UInt16 { try integer(field) }
    public mutating func u32(_ field: String) throws(WireError) -> UInt32 { try integer(field) }
    public mutating func u64(_ field: String) throws(WireError) -> UInt64 { try integer(field) }
    public mutating func f32(_ field: String) throws(WireError) -> Float { Float(bitPattern: try u32(field)) }
    public mutating func f64(_ field: String) throws(WireError) -> Double { Double(bitPattern: try u64(field)) }

    /// A count of elements of `elementSize` bytes each that must still fit in the frame.
    public mutating func count(_ field: String, elementSize: Int, limit: Int = Int(UInt32.max)) throws(WireError) -> Int {
        let n = Int(try u32(field))
        guard n <= limit else {
            throw WireError(code: "wire.limit", "\(context).\(field): count \(n) exceeds the limit \(limit)")
        }
        guard n * max(elementSize, 1) <= remaining || (elementSize == 0 && n == 0) else {
            throw WireError(code: "wire.truncated",
                            "\(context).\(field): count \(n) needs \(n * elementSize) bytes but only \(remaining) remain")
        }
        return n
    }

    public mutating func string(_ field: String, limit: Int = 1 << 20) throws(WireError) -> String {
        let n = try count(field, elementSize: 1, limit: limit)
        defer { offset += n }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }

    public mutating func blob(_ field: String, limit: Int = 1 << 30) throws(WireError) -> [UInt8] {
        let n = try count(field, elementSize: 1, limit: limit)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    public mutating func floats(_ field: String, limit: Int = 1 << 28) throws(WireError) -> [Float] {
        let n = try count(field, elementSize: 4, limit: limit)
        var values = [Float](repeating: 0, count: n)
        values.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { src in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<offset + 4 * n]))
            }
        }
        offset += 4 * n
        return values
    }

    /// Fails unless the whole frame was consumed: trailing bytes mean the peer speaks another
    /// layout of this kind.
    public func finish() throws(WireError) {
        guard remaining == 0 else {
            throw WireError(code: "wire.trailing", "\(context): \(remaining) unexpected bytes after the last field")
        }
    }

    private mutating func need(_ n: Int, _ field: String) throws(WireError) {
        guard remaining >= n else {
            throw WireError(code: "wire.truncated",
                            "\(context).\(field): needs \(n) bytes at offset \(offset) but only \(remaining) remain")
        }
    }

    private mutating func integer<T: FixedWidthInteger>(_ field: String) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        try need(size, field)
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        offset += size
        return T(littleEndian: value)
    }
}
