/// Appends little-endian fixed-width values to a byte array: the one place the sample format's
/// byte order is decided.
struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: Float) { append(value.bitPattern) }

    mutating func append(contentsOf other: [UInt8]) { bytes.append(contentsOf: other) }

    mutating func appendZeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }
}

/// Reads little-endian fixed-width values from a buffer whose length the caller has already
/// checked; reading past the end is a programming error, not a data error.
struct ByteReader {
    let base: UnsafeRawBufferPointer
    var offset: Int

    init(_ base: UnsafeRawBufferPointer, offset: Int = 0) {
        self.base = base
        self.offset = offset
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T {
        precondition(offset + MemoryLayout<T>.size <= base.count, "read past a checked length")
        let value = T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func readFloat() -> Float { Float(bitPattern: read(UInt32.self)) }

    mutating func readBytes(_ count: Int) -> [UInt8] {
        precondition(offset + count <= base.count, "read past a checked length")
        let slice = Array(base[offset..<offset + count])
        offset += count
        return slice
    }
}
