/// The fixed 48-byte header at the front of every all-reduce frame, little-endian.
///
/// The receiver knows from its own `RingPlan` exactly which frame must come next, so it builds the
/// header it expects and compares: any difference (a member running another mode, a stale frame of
/// an earlier collective, a member with another vector length, frame size or micro-batch total)
/// fails the collective with `CollectiveError.malformed` instead of silently mixing numbers.
///
/// | offset | type | field |
/// | --- | --- | --- |
/// | 0 | u32 | magic `0x52415247` ("GRAR" as bytes) |
/// | 4 | u8 | version (1) |
/// | 5 | u8 | mode: 0 exact, 1 fp32, 2 fp16 |
/// | 6 | u8 | stage: 0 exponent max-reduce, 1 value reduce |
/// | 7 | u8 | phase: 0 reduce-scatter, 1 all-gather |
/// | 8 | u64 | collective sequence number |
/// | 16 | u32 | step within the reduce-scatter; 0 in the all-gather, whose frames are forwarded unchanged |
/// | 20 | u32 | chunk index |
/// | 24 | u32 | frame index within the chunk |
/// | 28 | u32 | elements in this frame |
/// | 32 | u64 | elements in the whole vector |
/// | 40 | u32 | mode parameter: fraction bits (exact), loss-scale bits (fp16), 0 (fp32) |
/// | 44 | u32 | frame capacity in elements (`RingPlan.frameElements`) |
struct RingFrameHeader: Equatable, Sendable {
    static let size = 48
    static let magic: UInt32 = 0x5241_5247
    static let version: UInt8 = 1

    /// Which of the collective's reductions a frame belongs to.
    enum Stage: UInt8 {
        /// The small max-reduce of per-block exponents that precedes an exact sum.
        case exponents = 0
        /// The reduction of the values themselves.
        case values = 1
    }

    var mode: ReduceMode
    var stage: Stage
    var phase: RingPlan.Phase
    var sequence: UInt64
    var step: Int
    var chunk: Int
    var frame: Int
    var elements: Int
    var vectorLength: Int
    var parameter: UInt32
    var frameCapacity: Int

    static func modeCode(_ mode: ReduceMode) -> UInt8 {
        switch mode {
        case .exact: 0
        case .fp32: 1
        case .fp16: 2
        }
    }

    /// Writes the header into the first `size` bytes of `bytes`.
    func write(into bytes: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count >= Self.size)
        bytes.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        bytes.storeBytes(of: Self.version, toByteOffset: 4, as: UInt8.self)
        bytes.storeBytes(of: Self.modeCode(mode), toByteOffset: 5, as: UInt8.self)
        bytes.storeBytes(of: stage.rawValue, toByteOffset: 6, as: UInt8.self)
        bytes.storeBytes(of: phase.rawValue, toByteOffset: 7, as: UInt8.self)
        bytes.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
        bytes.storeBytes(of: UInt32(step).littleEndian, toByteOffset: 16, as: UInt32.self)
        bytes.storeBytes(of: UInt32(chunk).littleEndian, toByteOffset: 20, as: UInt32.self)
        bytes.storeBytes(of: UInt32(frame).littleEndian, toByteOffset: 24, as: UInt32.self)
        bytes.storeBytes(of: UInt32(elements).littleEndian, toByteOffset: 28, as: UInt32.self)
        bytes.storeBytes(of: UInt64(vectorLength).littleEndian, toByteOffset: 32, as: UInt64.self)
        bytes.storeBytes(of: parameter.littleEndian, toByteOffset: 40, as: UInt32.self)
        bytes.storeBytes(of: UInt32(frameCapacity).littleEndian, toByteOffset: 44, as: UInt32.self)
    }

    /// Checks that `frame` starts with exactly this header and carries `elements * elementBytes`
    /// bytes after it; the error names the first field that differs, with both values.
    func check(_ frame: UnsafeRawBufferPointer, elementBytes: Int) throws(CollectiveError) {
        guard frame.count >= Self.size else {
            throw .malformed("frame of \(frame.count) bytes is shorter than the \(Self.size)-byte header")
        }
        try check(header: UnsafeRawBufferPointer(rebasing: frame[..<Self.size]), payloadBytes: frame.count - Self.size, elementBytes: elementBytes)
    }

    /// `check` of a frame whose header and payload lie apart.
    func check(header frame: UnsafeRawBufferPointer, payloadBytes payload: Int, elementBytes: Int) throws(CollectiveError) {
        precondition(frame.count == Self.size, "a header of \(frame.count) bytes")
        func u32(_ offset: Int) -> UInt64 { UInt64(UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
        func u8(_ offset: Int) -> UInt64 { UInt64(frame.load(fromByteOffset: offset, as: UInt8.self)) }
        let fields: [(String, UInt64, UInt64)] = [
            ("magic", u32(0), UInt64(Self.magic)),
            ("version", u8(4), UInt64(Self.version)),
            ("mode", u8(5), UInt64(Self.modeCode(mode))),
            ("stage", u8(6), UInt64(stage.rawValue)),
            ("phase", u8(7), UInt64(phase.rawValue)),
            ("sequence", UInt64(littleEndian: frame.loadUnaligned(fromByteOffset: 8, as: UInt64.self)), sequence),
            ("step", u32(16), UInt64(step)),
            ("chunk", u32(20), UInt64(chunk)),
            ("frame", u32(24), UInt64(self.frame)),
            ("element count", u32(28), UInt64(elements)),
            ("vector length", UInt64(littleEndian: frame.loadUnaligned(fromByteOffset: 32, as: UInt64.self)), UInt64(vectorLength)),
            ("mode parameter", u32(40), UInt64(parameter)),
            ("frame capacity", u32(44), UInt64(frameCapacity)),
        ]
        for (name, got, expected) in fields where got != expected {
            throw .malformed("\(name) is \(got), expected \(expected) (sequence \(sequence), \(phase), step \(step), chunk \(chunk), frame \(self.frame))")
        }
        guard payload == elements * elementBytes else {
            throw .malformed("payload of \(payload) bytes, expected \(elements) elements of \(elementBytes) bytes (sequence \(sequence), \(phase), step \(step), chunk \(chunk), frame \(self.frame))")
        }
    }
}
