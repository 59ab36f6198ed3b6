import Testing
@testable import Checkpoint

@Suite struct SafetensorsTests {
    @Test func roundTripKeepsOddShapesValuesAndOrder() throws {
        let special: [Float] = [.nan, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, Float(bitPattern: 0x0000_1234)]
        let tensors = [
            NamedTensor(name: "z.scalar", shape: [], values: [42.5]),
            NamedTensor(name: "empty", shape: [0], values: []),
            NamedTensor(name: "a.hollow", shape: [2, 0, 5], values: []),
            NamedTensor(name: "specials", shape: [7, 1], values: special),
            NamedTensor(name: "m.cube", shape: [3, 1, 7], values: (0..<21).map { Float($0) / 3 }),
            NamedTensor(name: "unicode ünï “name”\n", shape: [1, 1, 1, 1, 2], values: [1, 2]),
        ]
        let file = SafetensorsFile(tensors: tensors, metadata: ["format": "grove", "quote\"key": "back\\slash"])
        let bytes = try file.encoded()
        let decoded = try SafetensorsFile(decoding: bytes, source: "round-trip")

        #expect(decoded.tensors.map(\.name) == tensors.map(\.name))
        #expect(decoded.tensors.map(\.shape) == tensors.map(\.shape))
        #expect(Fixtures.bits(decoded.tensors) == Fixtures.bits(tensors))
        #expect(decoded.metadata == file.metadata)
    }

    @Test func headerIsPaddedToEightBytesAndDataFollowsIt() throws {
        let bytes = try SafetensorsFile(tensors: [NamedTensor(name: "abc", shape: [3], values: [1, 2, 3])]).encoded()
        let headerLength = bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(headerLength % 8 == 0)
        #expect(bytes.count == 8 + headerLength + 12)
        #expect(bytes[8 + headerLength - 1] == UInt8(ascii: " ") || bytes[8 + headerLength - 1] == UInt8(ascii: "}"))
    }

    /// The exact bytes the reference implementation (Python `safetensors` 0.8) writes for the
    /// same tensor and metadata.
    @Test func goldenBytesOfATinyFile() throws {
        let file = SafetensorsFile(tensors: [NamedTensor(name: "a", shape: [2], values: [1.0, -2.0])], metadata: ["k": "v"])
        let header = #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} "#
        let expected: [UInt8] = [0x50, 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8)
            + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]
        #expect(try file.encoded() == expected)
        let decoded = try SafetensorsFile(decoding: expected, source: "golden")
        #expect(decoded == file)
    }

    @Test func readsHeadersWithWhitespaceEscapesAndAnyKeyOrder() throws {
        let header = "{ \"b\\u00e9\\ud83c\\udf33\" : { \"data_offsets\" : [ 0 , 4 ] , \"shape\" : [ ] , \"dtype\" : \"F32\" } }\n\t "
        let bytes = Self.file(header: header, data: [0, 0, 0x40, 0x40])
        let decoded = try SafetensorsFile(decoding: bytes, source: "spaced")
        #expect(decoded.tensors == [NamedTensor(name: "bé🌳", shape: [], values: [3])])
    }

    @Test func tensorsComeBackInDataOrderWhateverTheHeaderOrder() throws {
        let header = #"{"second":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"first":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let bytes = Self.file(header: header, data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40])
        let decoded = try SafetensorsFile(decoding: bytes, source: "reordered")
        #expect(decoded.tensors.map(\.name) == ["first", "second"])
        #expect(decoded.tensors.map(\.values) == [[1], [2]])
    }

    @Test func writerRefusesValuesThatDoNotFillTheShape() {
        let file = SafetensorsFile(tensors: [NamedTensor(name: "w", shape: [2, 3], values: [1, 2, 3])])
        #expect { try file.encoded(source: "out.safetensors") } throws: { error in
            let error = error as? CheckpointError
            return error?.kind == .sizeMismatch && error!.message.contains("out.safetensors") && error!.message.contains("[2, 3]")
        }
    }

    @Test func writerRefusesRepeatedNames() {
        let file = SafetensorsFile(tensors: [
            NamedTensor(name: "w", shape: [1], values: [1]), NamedTensor(name: "w", shape: [1], values: [2]),
        ])
        #expect(throws: CheckpointError.self) { try file.encoded() }
    }

    /// A file with the given header text (unpadded) and data section.
    static func file(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let length = declaredLength ?? UInt64(headerBytes.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + headerBytes + data
    }
}
