import Core
import Testing
@testable import Wire

/// The streamed form of a state: `StateImage` produces exactly the body of a `state` message range
/// by range, and `StateAssembler` decodes it back from chunks of any size, refusing what a broken
/// or hostile server could send.
@Suite struct StateStreamTests {
    static let state = Wire.State(step: 9, tensors: [
        Wire.Tensor(name: "param/a", values: [1, -2, 3.5]),
        Wire.Tensor(name: "param/empty", values: []),
        Wire.Tensor(name: "optim/adam.m", values: (0..<37).map { Float($0) * 0.25 }),
    ])

    /// The body of the `state` message: what the image must produce.
    static var body: [UInt8] { Array(WireSamples.encode(.state(state)).dropFirst(Wire.headerSize)) }

    @Test func theImageIsTheBodyOfAStateMessage() {
        let image = StateImage(Self.state)
        #expect(image.byteCount == Self.body.count)
        #expect(image.bytes(from: 0, count: image.byteCount) == Self.body)
        #expect(image.sha256() == SHA256.hash(Self.body))
        // Every range, including ones that straddle a tensor's header and its values.
        for offset in stride(from: 0, to: image.byteCount, by: 3) {
            for count in [1, 5, 17] where offset + count <= image.byteCount {
                #expect(image.bytes(from: offset, count: count) == Array(Self.body[offset..<offset + count]), "\(offset)+\(count)")
            }
        }
    }

    @Test func aSliceOfAFlatArrayStreamsWithoutTheRestOfIt() {
        let flat: [Float] = [10, 11, 12, 13, 14]
        let image = StateImage(step: 1, segments: [StateImage.Segment(name: "param/x", values: flat, offset: 1, count: 3)])
        let expected = Wire.State(step: 1, tensors: [Wire.Tensor(name: "param/x", values: [11, 12, 13])])
        #expect(image.bytes(from: 0, count: image.byteCount) == Array(WireSamples.encode(.state(expected)).dropFirst(Wire.headerSize)))
    }

    @Test(arguments: [1, 2, 3, 7, 64, 100_000])
    func chunksOfAnySizeAssembleTheState(chunk: Int) throws {
        let body = Self.body
        var assembler = StateAssembler(maxValues: 40)
        for start in stride(from: 0, to: body.count, by: chunk) {
            try assembler.consume(Array(body[start..<min(start + chunk, body.count)]))
        }
        let (state, hash) = try assembler.finish()
        #expect(state == Self.state)
        #expect(hash == SHA256.hash(body))
    }

    @Test func everyTruncationIsRefused() throws {
        let body = Self.body
        for length in 0..<body.count {
            var assembler = StateAssembler(maxValues: 40)
            try assembler.consume(Array(body[..<length]))
            #expect(throws: WireError.self, "cut to \(length) bytes") { _ = try assembler.finish() }
        }
    }

    @Test func bytesAfterTheLastTensorAreRefused() {
        var assembler = StateAssembler(maxValues: 40)
        #expect(throws: WireError.self) { try assembler.consume(Self.body + [0]) }
    }

    /// A value count beyond what the caller's model holds is refused before it is allocated.
    @Test func aHostileValueCountIsRefusedBeforeAllocating() {
        var assembler = StateAssembler(maxValues: 39)
        do {
            try assembler.consume(Self.body)
            Issue.record("accepted 40 values with a budget of 39")
        } catch {
            #expect(error.code == "wire.limit")
            #expect(error.message.contains("optim/adam.m") && error.message.contains("39"), "\(error.message)")
        }
        var bytes = Self.body
        bytes.replaceSubrange(8..<12, with: [0xFF, 0xFF, 0xFF, 0x7F])  // tensor count
        var other = StateAssembler(maxValues: 40)
        #expect(throws: WireError.self) { try other.consume(bytes) }
    }
}
