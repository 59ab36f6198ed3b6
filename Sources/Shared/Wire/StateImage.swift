import Core

/// The bytes of a training state as it streams between processes: exactly the body of a `state`
/// message (`step u64`, `tensors [tensor]`, each tensor `name string`, `values f32[]`;
/// docs/wire-protocol.md), produced range by range from the tensors where they live, without ever
/// assembling the whole body in memory.
///
/// The image holds its tensors' arrays (copy-on-write: no copy is made while the owner does not
/// write to them), so a replica that publishes its committed state and then applies the next
/// update pays for one copy, the one the update makes anyway to keep its pre-update state.
public struct StateImage: Sendable {
    /// A tensor of the image: `count` floats of `values` from `offset` (a slice of a flat
    /// parameter array, or a whole optimizer buffer).
    public struct Segment: Sendable {
        public var name: String
        public var values: [Float]
        public var offset: Int
        public var count: Int
        public init(name: String, values: [Float], offset: Int = 0, count: Int? = nil) {
            self.name = name
            self.values = values
            self.offset = offset
            self.count = count ?? values.count - offset
            precondition(offset >= 0 && self.count >= 0 && offset + self.count <= values.count, "segment \(name) outside its array")
        }
    }

    private enum Piece: Sendable {
        case bytes([UInt8])
        case floats([Float], offset: Int, count: Int)

        var byteCount: Int {
            switch self {
            case .bytes(let b): b.count
            case .floats(_, _, let count): 4 * count
            }
        }
    }

    public let step: UInt64
    public let byteCount: Int
    private let pieces: [Piece]
    /// Where each piece starts in the image.
    private let starts: [Int]

    public init(step: UInt64, segments: [Segment]) {
        self.step = step
        var pieces: [Piece] = []
        var head = ByteWriter(capacity: 12)
        head.u64(step)
        head.count(segments.count)
        var pending = head.bytes
        for segment in segments {
            var w = ByteWriter(capacity: segment.name.utf8.count + 8)
            w.string(segment.name)
            w.count(segment.count)
            pending += w.bytes
            if segment.count > 0 {
                pieces.append(.bytes(pending))
                pending = []
                pieces.append(.floats(segment.values, offset: segment.offset, count: segment.count))
            }
        }
        if !pending.isEmpty { pieces.append(.bytes(pending)) }
        var starts: [Int] = []
        var total = 0
        for piece in pieces {
            starts.append(total)
            total += piece.byteCount
        }
        self.pieces = pieces
        self.starts = starts
        byteCount = total
    }

    /// The image of a decoded state (tests, and peers that hold a `Wire.State`).
    public init(_ state: Wire.State) {
        self.init(step: state.step, segments: state.tensors.map { Segment(name: $0.name, values: $0.values) })
    }

    /// Copies `destination.count` bytes from `offset` of the image into `destination`.
    public func copy(from offset: Int, into destination: UnsafeMutableRawBufferPointer) {
        precondition(offset >= 0 && offset + destination.count <= byteCount, "range outside the state image")
        var written = 0
        // The last piece that starts at or before `offset`.
        var index = Self.lastIndex(in: starts, atOrBefore: offset)
        while written < destination.count {
            let piece = pieces[index]
            let within = offset + written - starts[index]
            let take = min(piece.byteCount - within, destination.count - written)
            let target = UnsafeMutableRawBufferPointer(rebasing: destination[written..<written + take])
            switch piece {
            case .bytes(let bytes):
                bytes.withUnsafeBytes { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[within..<within + take])) }
            case .floats(let values, let first, _):
                values.withUnsafeBytes { raw in
                    let base = 4 * first + within
                    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[base..<base + take]))
                }
            }
            written += take
            index += 1
        }
    }

    /// The bytes `offset ..< offset + count`.
    public func bytes(from offset: Int, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            copy(from: offset, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// SHA-256 of the whole image, computed piece by piece (no copy).
    public func sha256() -> [UInt8] {
        var hasher = SHA256()
        for piece in pieces {
            switch piece {
            case .bytes(let bytes): hasher.update(bytes)
            case .floats(let values, let first, let count):
                values.withUnsafeBufferPointer { hasher.update(floats: UnsafeBufferPointer(rebasing: $0[first..<first + count])) }
            }
        }
        return hasher.finalize()
    }

    private static func lastIndex(in starts: [Int], atOrBefore offset: Int) -> Int {
        var low = 0, high = starts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return low
    }
}
