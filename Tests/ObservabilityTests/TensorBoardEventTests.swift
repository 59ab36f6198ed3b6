import Testing
@testable import Observability

/// Golden bytes of the `Event` messages, produced by the reference protobuf implementation
/// (`tensorboard.compat.proto.event_pb2`), and of the framing around them.
@Suite struct TensorBoardEventTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    @Test func scalarEventMatchesReferenceEncoding() {
        let bytes = TensorBoardEvent.scalars([("loss", 0.5)], step: 3, wallTime: 1.0)
        #expect(Self.hex(bytes) == "09000000000000f03f10032a0d0a0b0a046c6f7373150000003f")
    }

    @Test func headerMatchesReferenceEncoding() {
        #expect(Self.hex(TensorBoardEvent.header(wallTime: 1.5)) == "09000000000000f83f1a0d627261696e2e4576656e743a32")
    }

    @Test func varintsUseSevenBitGroupsAndNegativeInt64TakesTenBytes() {
        var encoder = ProtobufEncoder()
        encoder.varint(300)
        #expect(encoder.bytes == [0xAC, 0x02])
        var negative = ProtobufEncoder()
        negative.int64(2, -1)
        #expect(Self.hex(negative.bytes) == "10ffffffffffffffffff01")
        var zero = ProtobufEncoder()
        zero.varint(0)
        #expect(zero.bytes == [0])
    }

    @Test func longTagsGetMultiByteLengths() {
        let tag = String(repeating: "t", count: 200)
        let bytes = TensorBoardEvent.scalars([(tag, 1)], step: 0, wallTime: 0)
        // wall_time (9 bytes), step 0 (2 bytes), then field 5 with a two-byte length.
        #expect(bytes[11] == 0x2A)
        let summaryLength = Int(bytes[12] & 0x7F) | Int(bytes[13]) << 7
        #expect(summaryLength == bytes.count - 14)
    }

    @Test func framingRoundTripsAndDetectsCorruption() throws {
        let records: [[UInt8]] = [[], [1, 2, 3], Array(repeating: 7, count: 300)]
        var file: [UInt8] = []
        for record in records { TFRecord.append(record, to: &file) }
        #expect(file.count == records.map { $0.count + 16 }.reduce(0, +))
        #expect(TFRecord.records(in: file) == records)
        // The empty record: zero length, the masked CRC of eight zero bytes, the masked CRC of
        // no bytes; all little-endian.
        #expect(Array(file[0..<16]) == [0, 0, 0, 0, 0, 0, 0, 0, 0x29, 0x03, 0x98, 0x07, 0xD8, 0xEA, 0x82, 0xA2])
        var corrupt = file
        corrupt[20] ^= 0x01
        #expect(TFRecord.records(in: corrupt) == nil)
        #expect(TFRecord.records(in: Array(file.dropLast())) == nil)
    }
}
