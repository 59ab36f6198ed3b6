import Testing
@testable import Collective

@Suite struct RingFrameHeaderTests {
    let header = RingFrameHeader(
        mode: .fp16, stage: .values, phase: .allGather, sequence: 0x0102_0304_0506_0708, step: 3, chunk: 5,
        frame: 7, elements: 2, vectorLength: 1000, parameter: 0x4580_0000, frameCapacity: 64)

    /// The byte layout documented in docs/all-reduce.md, pinned: a transport or a debugging tool
    /// written from the table must read the same fields.
    @Test func encodesTheDocumentedLayout() {
        let golden: [UInt8] = [
            0x47, 0x52, 0x41, 0x52, 1, 2, 1, 1,
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
            3, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0,
            0xE8, 0x03, 0, 0, 0, 0, 0, 0,
            0x00, 0x00, 0x80, 0x45, 64, 0, 0, 0,
        ]
        var bytes = [UInt8](repeating: 0xFF, count: RingFrameHeader.size)
        bytes.withUnsafeMutableBytes { header.write(into: $0) }
        #expect(bytes == golden)
    }

    @Test func acceptsItsOwnFrameAndNamesTheFirstFieldThatDiffers() throws {
        var frame = [UInt8](repeating: 0, count: RingFrameHeader.size + 4)
        frame.withUnsafeMutableBytes { header.write(into: $0) }
        try frame.withUnsafeBytes { try header.check($0, elementBytes: 2) }

        var other = header
        other.chunk = 6
        #expect(throws: CollectiveError.malformed("chunk is 5, expected 6 (sequence \(header.sequence), allGather, step 3, chunk 6, frame 7)")) {
            try frame.withUnsafeBytes { try other.check($0, elementBytes: 2) }
        }
        #expect(throws: CollectiveError.self) { try frame.withUnsafeBytes { try header.check($0, elementBytes: 4) } }
        #expect(throws: CollectiveError.self) { try [UInt8](repeating: 0, count: 10).withUnsafeBytes { try header.check($0, elementBytes: 2) } }
    }
}
