/// TFRecord framing, the container of TensorBoard event files.
///
/// Each record is: length as little-endian uint64, masked CRC-32C of those 8 bytes, the data,
/// masked CRC-32C of the data (both CRCs little-endian uint32). Readers check both CRCs and stop
/// at the first bad record, so a record cut short by a crash costs only itself.
public enum TFRecord {
    /// Appends one framed record to `output`.
    public static func append(_ data: [UInt8], to output: inout [UInt8]) {
        var length: [UInt8] = []
        length.reserveCapacity(8)
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { length.append(contentsOf: $0) }
        output.append(contentsOf: length)
        appendUInt32(CRC32C.maskedChecksum(length), to: &output)
        output.append(contentsOf: data)
        appendUInt32(CRC32C.maskedChecksum(data), to: &output)
    }

    /// One framed record.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(data.count + 16)
        append(data, to: &output)
        return output
    }

    /// Splits framed bytes back into records, checking both CRCs; nil if anything is off. The
    /// tests use it to check the framing independently of any external reader.
    public static func records(in bytes: [UInt8]) -> [[UInt8]]? {
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else { return nil }
            let header = Array(bytes[offset..<offset + 8])
            let length = header.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            guard readUInt32(bytes, at: offset + 8) == CRC32C.maskedChecksum(header),
                  length <= UInt64(bytes.count - offset - 16) else { return nil }
            let start = offset + 12, end = start + Int(length)
            let data = Array(bytes[start..<end])
            guard readUInt32(bytes, at: end) == CRC32C.maskedChecksum(data) else { return nil }
            records.append(data)
            offset = end + 4
        }
        return records
    }

    private static func appendUInt32(_ value: UInt32, to output: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) }
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }
}
