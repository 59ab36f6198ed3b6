@testable import Collective

/// All-reduce frame headers (`RingFrameHeader`), as a ring link hands them over: in one piece, or
/// as a 48-byte head and a lent payload.
///
/// Input: one byte choosing the element size (1, 2 or 4 bytes) and whether the frame arrives in
/// two pieces, then the frame. Oracle: a frame that is not `undecodable` carries exactly the
/// payload its element count announces, and `check` accepts it against a header built from its own
/// fields and refuses it against one that differs in the frame index.
let ringFrameTarget = FuzzTarget(
    name: "ring-frame",
    summary: "all-reduce frame headers (Collective/RingFrameHeader.swift)",
    run: { data in
        guard let control = data.first else { return }
        let elementBytes = [1, 2, 4, 4][Int(control & 3)]
        let bytes = Array(data.dropFirst())
        let frame: ReceivedFrame
        if control & 4 != 0, bytes.count >= RingFrameHeader.size {
            let rest = Array(bytes[RingFrameHeader.size...])
            let lent = UnsafeMutableRawBufferPointer.allocate(byteCount: rest.count, alignment: 16)
            rest.withUnsafeBytes { lent.copyMemory(from: $0) }
            frame = ReceivedFrame(head: Array(bytes[..<RingFrameHeader.size]), lending: UnsafeRawBufferPointer(lent)) { lent.deallocate() }
        } else {
            frame = ReceivedFrame(bytes)
        }
        if let problem = RingFrameHeader.undecodable(frame, elementBytes: elementBytes) {
            if problem.isEmpty { finding("an undecodable frame without a reason") }
            return
        }
        guard let own = frame.withHead(size: RingFrameHeader.size, { header, _ in RingFrameHeader(reading: header) }) else {
            finding("a decodable frame of \(frame.count) bytes is shorter than the header")
        }
        guard let own else { return }  // a mode, stage or phase code no plan produces
        frame.withUnsafeBytes { raw in
            do {
                try own.check(raw, elementBytes: elementBytes)
            } catch {
                finding("a frame fails the check against its own header: \(error)")
            }
            var other = own
            other.frame = own.frame == 0 ? 1 : own.frame - 1
            if (try? other.check(raw, elementBytes: elementBytes)) != nil {
                finding("a frame passes the check against a header with another frame index")
            }
        }
    },
    seeds: {
        func encoded(_ header: RingFrameHeader, elementBytes: Int, control: UInt8) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: RingFrameHeader.size + header.elements * elementBytes)
            bytes.withUnsafeMutableBytes { header.write(into: $0) }
            return [control] + bytes
        }
        let exact = RingFrameHeader(mode: .exact, stage: .values, phase: .reduceScatter, sequence: 7, step: 1, chunk: 2, frame: 0,
                                    elements: 4, vectorLength: 100, parameter: 20, frameCapacity: 1024)
        let half = RingFrameHeader(mode: .fp16, stage: .values, phase: .allGather, sequence: 8, step: 0, chunk: 1, frame: 3,
                                   elements: 3, vectorLength: 10, parameter: 15, frameCapacity: 3)
        let exponents = RingFrameHeader(mode: .exact, stage: .exponents, phase: .reduceScatter, sequence: 9, step: 2, chunk: 0, frame: 0,
                                        elements: 2, vectorLength: 2, parameter: 0, frameCapacity: 2)
        return [
            (name: "exact-values", bytes: encoded(exact, elementBytes: 4, control: 2)),
            (name: "exact-values-split", bytes: encoded(exact, elementBytes: 4, control: 6)),
            (name: "fp16-all-gather", bytes: encoded(half, elementBytes: 2, control: 1)),
            (name: "exponents", bytes: encoded(exponents, elementBytes: 1, control: 0)),
        ]
    }
)

extension RingFrameHeader {
    /// The header a frame carries, read field by field; nil for a mode, stage or phase code that
    /// no plan produces. Used only by the oracle: receivers compare, they never parse.
    init?(reading header: UnsafeRawBufferPointer) {
        func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: header.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: header.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        let modes: [ReduceMode] = [.exact, .fp32, .fp16]
        let modeCode = Int(header[5])
        guard modeCode < modes.count, let stage = Stage(rawValue: header[6]), let phase = RingPlan.Phase(rawValue: header[7]),
              let vectorLength = Int(exactly: u64(32)) else { return nil }
        self.init(mode: modes[modeCode], stage: stage, phase: phase, sequence: u64(8), step: Int(u32(16)), chunk: Int(u32(20)),
                  frame: Int(u32(24)), elements: Int(u32(28)), vectorLength: vectorLength, parameter: u32(40), frameCapacity: Int(u32(44)))
    }
}
