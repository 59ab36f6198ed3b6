/// The fixed 48-byte header at the front of every all-reduce frame, little-endian.
///
/// The receiver knows from its own `RingPlan` exactly which frame must come next, so it builds the
/// header it expects and compares: any difference (a member running another mode, a stale frame of
/// an earlier collective, a member with another vector length, frame size or micro-batch total)
/// fails the collective with `CollectiveError.malformed` instead of silently mixing numbers. A
/// frame that is not an all-reduce frame at all (`undecodable`) is dropped and counted instead.
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
    ///
    /// Allocation-free unless it throws: it runs for every frame of every collective.
    func check(header frame: UnsafeRawBufferPointer, payloadBytes payload: Int, elementBytes: Int) throws(CollectiveError) {
        precondition(frame.count == Self.size, "a header of \(frame.count) bytes")
        func u32(_ offset: Int) -> UInt64 { UInt64(UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
        func u8(_ offset: Int) -> UInt64 { UInt64(frame.load(fromByteOffset: offset, as: UInt8.self)) }
        func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: frame.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        func expect(_ name: StaticString, _ got: UInt64, _ expected: UInt64) throws(CollectiveError) {
            guard got != expected else { return }
            throw .malformed("\(name) is \(got), expected \(expected) (sequence \(sequence), \(phase), step \(step), chunk \(chunk), frame \(self.frame))")
        }
        try expect("magic", u32(0), UInt64(Self.magic))
        try expect("version", u8(4), UInt64(Self.version))
        try expect("mode", u8(5), UInt64(Self.modeCode(mode)))
        try expect("stage", u8(6), UInt64(stage.rawValue))
        try expect("phase", u8(7), UInt64(phase.rawValue))
        try expect("sequence", u64(8), sequence)
        try expect("step", u32(16), UInt64(step))
        try expect("chunk", u32(20), UInt64(chunk))
        try expect("frame", u32(24), UInt64(self.frame))
        try expect("element count", u32(28), UInt64(elements))
        try expect("vector length", u64(32), UInt64(vectorLength))
        try expect("mode parameter", u32(40), UInt64(parameter))
        try expect("frame capacity", u32(44), UInt64(frameCapacity))
        guard payload == elements * elementBytes else {
            throw .malformed("payload of \(payload) bytes, expected \(elements) elements of \(elementBytes) bytes (sequence \(sequence), \(phase), step \(step), chunk \(chunk), frame \(self.frame))")
        }
    }

    /// Why a frame cannot be read as an all-reduce frame at all — shorter than the header, another
    /// magic or version, or a payload whose size is not the element count its own header gives —
    /// or nil when it can (its fields are then compared with the plan by `check`).
    ///
    /// Such a frame is noise (a stray or hostile sender, a corrupted message), not a member that
    /// disagrees about the collective, so the exchange drops and counts it instead of failing.
    /// Allocation-free unless it finds a problem.
    static func undecodable(_ frame: ReceivedFrame, elementBytes: Int) -> String? {
        let problem: String?? = frame.withHead(size: size) { header, payload in
            let magic = UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
            if magic != Self.magic { return "magic 0x\(String(magic, radix: 16)), not 0x\(String(Self.magic, radix: 16))" }
            let version = header.load(fromByteOffset: 4, as: UInt8.self)
            if version != Self.version { return "version \(version), not \(Self.version)" }
            let elements = Int(UInt32(littleEndian: header.loadUnaligned(fromByteOffset: 28, as: UInt32.self)))
            if payload.count != elements * elementBytes {
                return "payload of \(payload.count) bytes for the \(elements) elements of \(elementBytes) bytes its header announces"
            }
            return nil
        }
        guard let problem else { return "frame of \(frame.count) bytes is shorter than the \(size)-byte header" }
        return problem
    }
}
