import CZlib

/// gzip framing (RFC 1952) through zlib: level 1 by default, which compresses image-like data
/// several times faster than the default level for a few percent of size.
enum Gzip {
    /// zlib's window bits with 16 added: write and expect a gzip header and CRC-32 trailer.
    static let gzipWindowBits: Int32 = 15 + 16
    /// The most bytes deflate can inflate from one compressed byte (1032: a 258-byte match coded
    /// in two bits), so a reader can bound a size claimed by compressed data before it allocates.
    static let maximumExpansion = 1032

    /// Compresses `input` into one gzip member.
    static func compress(_ input: [UInt8], level: Int32 = 1) -> [UInt8] {
        // zlib keeps a pointer back to its z_stream and checks it on every call, so the stream
        // lives at one heap address rather than in a Swift variable that may move.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        let initialised = deflateInit2_(stream, level, Z_DEFLATED, gzipWindowBits, 8, Z_DEFAULT_STRATEGY,
                                        ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(initialised == Z_OK, "deflateInit2_ failed with \(initialised): zlib is unusable")
        defer { deflateEnd(stream) }
        // deflateBound covers the zlib wrapper; the gzip header and trailer add at most 18 bytes.
        let bound = Int(deflateBound(stream, UInt(input.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        let written: Int = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: source.bindMemory(to: Bytef.self).baseAddress)
                stream.pointee.avail_in = UInt32(source.count)
                stream.pointee.next_out = target.bindMemory(to: Bytef.self).baseAddress
                stream.pointee.avail_out = UInt32(target.count)
                let status = deflate(stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "deflate into a deflateBound buffer returned \(status)")
                return Int(stream.pointee.total_out)
            }
        }
        output.removeSubrange(written...)
        return output
    }
}

/// Streaming gzip decompression over one input buffer, so that a reader can inflate a header,
/// check it, and only then size the buffer for the rest.
///
/// A class, not a struct: zlib checks that its z_stream stays at one address.
final class GzipReader {
    /// What one call to `fill` found.
    enum Outcome: Equatable {
        /// The output buffer is full; the stream may continue.
        case filled
        /// The gzip member ended (its CRC-32 and length were checked) after this many bytes.
        case ended(written: Int)
        /// The input ran out before the member ended.
        case truncated(written: Int)
        /// zlib rejected the data (bad header, bad deflate data, CRC mismatch); zlib's reason.
        case corrupt(String)
    }

    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeRawBufferPointer

    /// `input` must stay valid for the reader's life.
    init(input: UnsafeRawBufferPointer) {
        self.input = input
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, Gzip.gzipWindowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "inflateInit2_ failed with \(status): zlib is unusable")
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
        stream.pointee.avail_in = UInt32(input.count)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Input bytes not consumed yet (bytes after the end of the gzip member).
    var remainingInput: Int { Int(stream.pointee.avail_in) }

    /// Inflates into `output` until it is full, the member ends, or the input runs out.
    func fill(_ output: UnsafeMutableRawBufferPointer) -> Outcome {
        guard output.count > 0 else { return .filled }
        stream.pointee.next_out = output.bindMemory(to: Bytef.self).baseAddress
        stream.pointee.avail_out = UInt32(output.count)
        while true {
            let status = inflate(stream, Z_NO_FLUSH)
            let written = output.count - Int(stream.pointee.avail_out)
            switch status {
            case Z_STREAM_END:
                return .ended(written: written)
            case Z_OK:
                if stream.pointee.avail_out == 0 { return .filled }
                if stream.pointee.avail_in == 0 { return .truncated(written: written) }
            case Z_BUF_ERROR:
                // No progress possible: with room left in the output, the input must have run out.
                return stream.pointee.avail_out == 0 ? .filled : .truncated(written: written)
            default:
                let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                return .corrupt(reason)
            }
        }
    }
}
