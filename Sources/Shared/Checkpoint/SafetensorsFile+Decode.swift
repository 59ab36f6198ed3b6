extension SafetensorsFile {
    /// Bytes per element of every dtype the safetensors format names. Only F32 is loaded, but the
    /// others are known so that a well-formed file of another dtype is reported as unsupported,
    /// not as malformed.
    static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
        "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4,
        "I64": 8, "U64": 8, "F64": 8,
    ]

    /// Parses and validates a whole safetensors file held in memory.
    ///
    /// Every length is checked against the bytes actually present before anything is allocated
    /// from it: the header length against the file size, each tensor's shape and dtype against its
    /// offsets, and the offsets against the data section, which they must tile exactly (no
    /// overlap, no gap, nothing past the end), as the reference implementation requires.
    /// Tensors come back in data order, which is the order they were written in.
    ///
    /// - Parameter source: names the file in error messages (usually its path).
    public init(decoding bytes: [UInt8], source: String) throws {
        self = try bytes.withUnsafeBytes { (raw) in try Self.decode(raw, source: source) }
    }

    private struct Entry {
        var name: String
        var shape: [Int]
        var dtype: String
        var begin: Int
        var end: Int
        var headerIndex: Int
    }

    private static func decode(_ file: UnsafeRawBufferPointer, source: String) throws -> SafetensorsFile {
        guard file.count >= 8 else {
            throw CheckpointError(.truncated, "\(source): file is \(file.count) bytes, too short for the 8-byte header length")
        }
        let declared = file.loadUnaligned(as: UInt64.self).littleEndian
        guard declared <= UInt64(file.count - 8) else {
            throw CheckpointError(
                .truncated,
                "\(source): header length \(declared) is larger than the \(file.count - 8) bytes after the length field"
            )
        }
        let headerLength = Int(declared)
        let header = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
        let data = UnsafeRawBufferPointer(rebasing: file[(8 + headerLength)...])

        let json: HeaderJSON
        do {
            json = try HeaderJSON.parse(header)
        } catch {
            if let key = error.duplicateKey {
                throw CheckpointError(.duplicateName, "\(source): header names \"\(key)\" twice (at header byte \(error.offset))")
            }
            throw CheckpointError(.headerNotJSON, "\(source): header is not JSON: \(error.reason) at header byte \(error.offset)")
        }
        guard case .object(let members) = json else {
            throw CheckpointError(.badHeader, "\(source): header is JSON but not an object")
        }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (index, member) in members.enumerated() {
            if member.key == "__metadata__" {
                metadata = try decodeMetadata(member.value, source: source)
            } else {
                entries.append(try decodeEntry(member.key, member.value, index: index, source: source))
            }
        }
        try checkTiling(entries, dataCount: data.count, source: source)

        let ordered = entries.sorted { ($0.begin, $0.end, $0.headerIndex) < ($1.begin, $1.end, $1.headerIndex) }
        var tensors: [NamedTensor] = []
        tensors.reserveCapacity(ordered.count)
        for entry in ordered {
            guard entry.dtype == "F32" else {
                throw CheckpointError(
                    .unsupportedDType,
                    "\(source): tensor \"\(entry.name)\" has dtype \(entry.dtype); Grove loads only F32"
                )
            }
            let count = (entry.end - entry.begin) / MemoryLayout<Float>.size
            let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                let bytes = UnsafeRawBufferPointer(rebasing: data[entry.begin..<entry.end])
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
                initialized = count
            }
            tensors.append(NamedTensor(name: entry.name, shape: entry.shape, values: values))
        }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    private static func decodeMetadata(_ value: HeaderJSON, source: String) throws -> [String: String] {
        guard case .object(let pairs) = value else {
            throw CheckpointError(.badHeader, "\(source): __metadata__ is not an object of strings")
        }
        var metadata: [String: String] = [:]
        for pair in pairs {
            guard case .string(let text) = pair.value else {
                throw CheckpointError(.badHeader, "\(source): __metadata__ value of \"\(pair.key)\" is not a string")
            }
            metadata[pair.key] = text
        }
        return metadata
    }

    private static func decodeEntry(
        _ name: String, _ value: HeaderJSON, index: Int, source: String
    ) throws -> Entry {
        func bad(_ problem: String) -> CheckpointError {
            CheckpointError(.badHeader, "\(source): tensor \"\(name)\" \(problem)")
        }
        guard case .object(let fields) = value else { throw bad("is not an object") }
        var dtype: String?
        var shape: [Int]?
        var offsets: [Int]?
        for field in fields {
            switch field.key {
            case "dtype":
                guard case .string(let text) = field.value else { throw bad("has a dtype that is not a string") }
                dtype = text
            case "shape":
                guard case .array(let items) = field.value else { throw bad("has a shape that is not an array") }
                shape = try items.map { (item) throws in
                    guard let dimension = item.nonNegativeInteger else { throw bad("has a shape entry that is not a non-negative integer") }
                    return dimension
                }
            case "data_offsets":
                guard case .array(let items) = field.value, items.count == 2,
                      let begin = items[0].nonNegativeInteger, let end = items[1].nonNegativeInteger
                else { throw bad("has data_offsets that are not two non-negative integers") }
                offsets = [begin, end]
            default:
                throw bad("has an unknown field \"\(field.key)\"")
            }
        }
        guard let dtype else { throw bad("has no dtype") }
        guard let shape else { throw bad("has no shape") }
        guard let offsets else { throw bad("has no data_offsets") }
        guard let elementSize = elementSizes[dtype] else { throw bad("has an unknown dtype \"\(dtype)\"") }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else {
            throw CheckpointError(.badOffsets, "\(source): tensor \"\(name)\" has data_offsets [\(begin), \(end)] that end before they begin")
        }
        guard let count = NamedTensor.elementCount(of: shape),
              case let (byteCount, overflow) = count.multipliedReportingOverflow(by: elementSize), !overflow,
              byteCount == end - begin
        else {
            throw CheckpointError(
                .sizeMismatch,
                "\(source): tensor \"\(name)\" of shape \(shape) and dtype \(dtype) does not fill its \(end - begin) bytes"
            )
        }
        return Entry(name: name, shape: shape, dtype: dtype, begin: begin, end: end, headerIndex: index)
    }

    /// The tensors' byte ranges must cover the data section exactly once.
    private static func checkTiling(_ entries: [Entry], dataCount: Int, source: String) throws {
        for entry in entries where entry.end > dataCount {
            throw CheckpointError(
                .badOffsets,
                "\(source): tensor \"\(entry.name)\" ends at byte \(entry.end), past the \(dataCount)-byte data section"
            )
        }
        var expected = 0
        var previous = "the start of the data section"
        for entry in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            if entry.begin < expected {
                throw CheckpointError(.badOffsets, "\(source): tensor \"\(entry.name)\" starts at byte \(entry.begin), overlapping \(previous)")
            }
            if entry.begin > expected {
                throw CheckpointError(.badOffsets, "\(source): bytes \(expected)..<\(entry.begin) after \(previous) belong to no tensor")
            }
            expected = entry.end
            previous = "tensor \"\(entry.name)\""
        }
        if expected != dataCount {
            throw CheckpointError(.badOffsets, "\(source): bytes \(expected)..<\(dataCount) after \(previous) belong to no tensor")
        }
    }
}
