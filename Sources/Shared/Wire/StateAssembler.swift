import Core

/// Decodes a streamed state (the bytes of a `StateImage`) as its chunks arrive, in order, into
/// tensors, and hashes it on the way. Every count is checked before anything is allocated: the
/// caller says how many values it will accept in all (what its own model and optimizer hold), so
/// a hostile or broken server can make the assembly fail but never make it allocate more.
public struct StateAssembler: Sendable {
    public let maxValues: Int
    public let maxTensors: Int
    public private(set) var received = 0
    private var hasher = SHA256()
    /// Bytes of a field that straddles two chunks.
    private var pending: [UInt8] = []
    private var step: UInt64 = 0
    private var tensorsLeft = -1
    private var valuesLeft = 0
    private var nameLength: Int?
    private var name: String?
    private var values: [Float] = []
    private var filled = 0
    private var tensors: [Wire.Tensor] = []
    private var totalValues = 0

    public init(maxValues: Int, maxTensors: Int = 4096) {
        self.maxValues = maxValues
        self.maxTensors = maxTensors
    }

    /// Whether the last byte of the state has been consumed.
    public var isComplete: Bool { tensorsLeft == 0 && name == nil && nameLength == nil }

    /// Consumes the next bytes of the stream.
    public mutating func consume(_ chunk: UnsafeRawBufferPointer) throws(WireError) {
        hasher.update(chunk)
        received += chunk.count
        var at = 0
        while at < chunk.count {
            if isComplete {
                throw WireError(code: "state.trailing", "the state continues after its last tensor (\(chunk.count - at) more bytes)")
            }
            if name != nil {
                // Values of the current tensor: straight into its array.
                let want = 4 * (values.count - filled) - pending.count
                let take = min(want, chunk.count - at)
                pending += UnsafeRawBufferPointer(rebasing: chunk[at..<at + take])
                at += take
                let whole = pending.count / 4
                if whole > 0 {
                    values.withUnsafeMutableBytes { out in
                        pending.withUnsafeBytes { src in
                            UnsafeMutableRawBufferPointer(rebasing: out[4 * filled..<4 * (filled + whole)])
                                .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<4 * whole]))
                        }
                    }
                    filled += whole
                    pending.removeFirst(4 * whole)
                }
                if filled == values.count { finishTensor() }
                continue
            }
            // A fixed-size field: the header, a name length, a name, a value count.
            let need = fieldSize()
            let take = min(need - pending.count, chunk.count - at)
            pending += UnsafeRawBufferPointer(rebasing: chunk[at..<at + take])
            at += take
            if pending.count == need {
                try field(pending)
                pending = []
            }
        }
    }

    public mutating func consume(_ chunk: [UInt8]) throws(WireError) {
        let failure: WireError? = chunk.withUnsafeBytes { raw -> WireError? in
            do throws(WireError) { try consume(raw) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// The state and the SHA-256 of every byte consumed; throws unless the stream is complete.
    public mutating func finish() throws(WireError) -> (state: Wire.State, sha256: [UInt8]) {
        guard isComplete else {
            throw WireError(code: "state.truncated", "the state ended after \(received) bytes, inside \(name.map { "tensor \($0)" } ?? "its header")")
        }
        return (Wire.State(step: step, tensors: tensors), hasher.finalize())
    }

    private func fieldSize() -> Int {
        if tensorsLeft < 0 { return 12 }
        if let nameLength { return nameLength == -1 ? 4 : nameLength }
        return 4
    }

    private mutating func field(_ bytes: [UInt8]) throws(WireError) {
        var r = ByteReader(bytes, context: "state")
        if tensorsLeft < 0 {
            step = try r.u64("step")
            let count = Int(try r.u32("tensors"))
            guard count <= maxTensors else {
                throw WireError(code: "wire.limit", "state.tensors: count \(count) exceeds the limit \(maxTensors)")
            }
            tensorsLeft = count
            return
        }
        switch nameLength {
        case nil:
            let length = Int(try r.u32("tensor.name"))
            guard length <= 1024 else { throw WireError(code: "wire.limit", "state.tensor.name: length \(length) exceeds the limit 1024") }
            nameLength = length
            if length == 0 { nameLength = -1; name = nil; pendingName = "" }
        case -1:
            let count = Int(try r.u32("tensor.values"))
            guard count <= maxValues - totalValues else {
                throw WireError(code: "wire.limit",
                                "state.tensor \(pendingName ?? "?"): \(count) values would exceed the \(maxValues) this model's state holds")
            }
            totalValues += count
            nameLength = nil
            values = [Float](repeating: 0, count: count)
            filled = 0
            name = pendingName
            pendingName = nil
            if count == 0 { finishTensor() }
        default:
            pendingName = String(decoding: bytes, as: UTF8.self)
            nameLength = -1
        }
    }

    private var pendingName: String?

    private mutating func finishTensor() {
        tensors.append(Wire.Tensor(name: name ?? "", values: values))
        values = []
        name = nil
        filled = 0
        tensorsLeft -= 1
    }
}
