import Core
#if _endian(big)
#error("safetensors stores little-endian bytes; Grove copies float memory as is and needs a little-endian host")
#endif

/// A safetensors file: an ordered list of float32 tensors and a string-to-string metadata map.
///
/// Layout (the subset Grove writes; see docs/checkpoints.md):
/// 8 bytes little-endian header length N, N bytes of UTF-8 JSON padded with spaces to a multiple
/// of 8, then the tensors' raw little-endian bytes back to back in the order given. The JSON has
/// `__metadata__` first (omitted when empty, keys sorted so the bytes are reproducible), then one
/// entry per tensor in order: `{"dtype":"F32","shape":[..],"data_offsets":[begin,end]}` with
/// offsets relative to the start of the data section.
public struct SafetensorsFile: Sendable, Equatable {
    public var tensors: [NamedTensor]
    public var metadata: [String: String]

    public init(tensors: [NamedTensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The whole file as bytes. Throws `invalidInput` for an empty or repeated name or values that
    /// do not fill the shape; `source` names the file in that message.
    public func encoded(source: String = "safetensors data") throws -> [UInt8] {
        var bytes: [UInt8] = []
        try write(source: source) { chunk in bytes.append(contentsOf: chunk) }
        return bytes
    }

    /// Streams the file to `sink` in a few large chunks (the header, then each tensor's values),
    /// so a checkpoint is written and hashed without a second copy of its tensors in memory.
    func write(
        source: String, to sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let header = try headerBytes(source: source)
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { (raw) in try sink(raw) }
        try header.withUnsafeBytes { (raw) in try sink(raw) }
        for tensor in tensors where !tensor.values.isEmpty {
            try tensor.values.withUnsafeBytes { (raw) in try sink(raw) }
        }
    }

    /// The JSON header, padded with spaces to a multiple of 8 bytes so the data section is aligned.
    func headerBytes(source: String) throws -> [UInt8] {
        var json = "{"
        var first = true
        func separate() { if first { first = false } else { json += "," } }
        if !metadata.isEmpty {
            separate()
            json += "\"__metadata__\":{"
            json += metadata.sorted { $0.key < $1.key }
                .map { "\(Self.quoted($0.key)):\(Self.quoted($0.value))" }
                .joined(separator: ",")
            json += "}"
        }
        var names = Set<String>()
        var offset = 0
        for tensor in tensors {
            guard !tensor.name.isEmpty, tensor.name != "__metadata__" else {
                throw CheckpointError(.invalidInput, "\(source): tensor name \"\(tensor.name)\" is empty or reserved")
            }
            guard names.insert(tensor.name).inserted else {
                throw CheckpointError(.duplicateName, "\(source): tensor name \"\(tensor.name)\" is given twice")
            }
            guard let count = tensor.shapeElementCount, count == tensor.values.count else {
                throw CheckpointError(
                    .sizeMismatch,
                    "\(source): tensor \"\(tensor.name)\" has shape \(tensor.shape) but \(tensor.values.count) values"
                )
            }
            let end = offset + count * MemoryLayout<Float>.size
            separate()
            json += "\(Self.quoted(tensor.name)):{\"dtype\":\"F32\",\"shape\":["
            json += tensor.shape.map(String.init).joined(separator: ",")
            json += "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var bytes = Array(json.utf8)
        let padding = (8 - bytes.count % 8) % 8
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        return bytes
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, everything else
    /// (including non-ASCII) written as UTF-8.
    static func quoted(_ text: String) -> String {
        JSONQuoting.quoted(text)
    }
}
