/// Appends little-endian fields to a byte buffer. All multi-byte integers and floats on Grove's wire
/// are little-endian; strings and arrays are prefixed with a UInt32 count.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { append(v.littleEndian) }
    public mutating func u32(_ v: UInt32) { append(v.littleEndian) }
    public mutating func u64(_ v: UInt64) { append(v.littleEndian) }
    public mutating func f32(_ v: Float) { u32(v.bitPattern) }
    public mutating func f64(_ v: Double) { u64(v.bitPattern) }

    public mutating func count(_ n: Int) {
        precondition(n >= 0 && n <= Int(UInt32.max), "count \(n) does not fit the wire")
        u32(UInt32(n))
    }

    /// UTF-8 bytes after a UInt32 length.
    public mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        count(utf8.count)
        bytes += utf8
    }

    /// Raw bytes after a UInt32 length.
    public mutating func blob(_ b: [UInt8]) {
        count(b.count)
        bytes += b
    }

    /// Float32 values after a UInt32 count, copied as one block.
    public mutating func floats(_ values: [Float]) {
        count(values.count)
        values.withUnsafeBytes { bytes += $0 }
    }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v) { bytes += $0 }
    }
}
