import Testing
@testable import Checkpoint

/// Every class of malformed file is refused with its own error kind and a message that names the
/// file and the problem.
@Suite struct SafetensorsMalformedTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var bytes: [UInt8]
        var kind: CheckpointError.Kind
        var mentions: String
        var testDescription: String { label }
    }

    static let four: [UInt8] = [0, 0, 0x80, 0x3F]
    static func entry(_ name: String, dtype: String = "F32", shape: String = "[1]", offsets: String) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }
    static func file(_ header: String, _ data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        SafetensorsTests.file(header: header, data: data, declaredLength: declaredLength)
    }

    static let cases: [Case] = [
        Case(label: "shorter than the length field", bytes: [1, 2, 3], kind: .truncated, mentions: "3 bytes"),
        Case(label: "header length larger than the file",
             bytes: file("{}", [], declaredLength: 4096), kind: .truncated, mentions: "header length 4096"),
        Case(label: "header length near UInt64.max",
             bytes: file("{}", [], declaredLength: .max), kind: .truncated, mentions: "header length 18446744073709551615"),
        Case(label: "header not JSON", bytes: file("{not json}", []), kind: .headerNotJSON, mentions: "not JSON"),
        Case(label: "header cut in the middle", bytes: file(#"{"a":{"dtype":"F3"#, []), kind: .headerNotJSON, mentions: "not JSON"),
        Case(label: "header not UTF-8", bytes: file("{\"\u{FF}\":1}", []).enumerated().map { $0.offset == 10 ? 0xFF : $0.element },
             kind: .headerNotJSON, mentions: "UTF-8"),
        Case(label: "trailing garbage after the header object", bytes: file("{} x", []), kind: .headerNotJSON, mentions: "after"),
        Case(label: "header is an array", bytes: file("[]", []), kind: .badHeader, mentions: "not an object"),
        Case(label: "nesting bomb", bytes: file(String(repeating: "[", count: 500), []), kind: .headerNotJSON, mentions: "nesting"),
        Case(label: "duplicate tensor names",
             bytes: file("{" + entry("w", offsets: "[0,4]") + "," + entry("w", offsets: "[4,8]") + "}", four + four),
             kind: .duplicateName, mentions: "\"w\" twice"),
        Case(label: "overlapping offsets",
             bytes: file("{" + entry("a", shape: "[2]", offsets: "[0,8]") + "," + entry("b", offsets: "[4,8]") + "}", four + four),
             kind: .badOffsets, mentions: "overlapping"),
        Case(label: "offsets past the end",
             bytes: file("{" + entry("a", shape: "[2]", offsets: "[0,8]") + "}", four), kind: .badOffsets, mentions: "past the 4-byte"),
        Case(label: "offsets leave a gap",
             bytes: file("{" + entry("a", offsets: "[4,8]") + "}", four + four), kind: .badOffsets, mentions: "belong to no tensor"),
        Case(label: "trailing data no tensor owns",
             bytes: file("{" + entry("a", offsets: "[0,4]") + "}", four + four), kind: .badOffsets, mentions: "4..<8"),
        Case(label: "offsets backwards",
             bytes: file("{" + entry("a", shape: "[0]", offsets: "[4,0]") + "}", four), kind: .badOffsets, mentions: "end before"),
        Case(label: "shape does not match byte count",
             bytes: file("{" + entry("a", shape: "[3]", offsets: "[0,8]") + "}", four + four), kind: .sizeMismatch, mentions: "[3]"),
        Case(label: "dtype does not match byte count",
             bytes: file("{" + entry("a", dtype: "F64", shape: "[2]", offsets: "[0,8]") + "}", four + four),
             kind: .sizeMismatch, mentions: "F64"),
        Case(label: "shape product overflows",
             bytes: file("{" + entry("a", shape: "[4294967296,4294967296,4]", offsets: "[0,4]") + "}", four),
             kind: .sizeMismatch, mentions: "4294967296"),
        Case(label: "negative dimension",
             bytes: file("{" + entry("a", shape: "[-1]", offsets: "[0,4]") + "}", four), kind: .badHeader, mentions: "shape"),
        Case(label: "fractional offset",
             bytes: file("{" + entry("a", offsets: "[0,4.0]") + "}", four), kind: .badHeader, mentions: "data_offsets"),
        Case(label: "missing dtype",
             bytes: file(#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, four), kind: .badHeader, mentions: "no dtype"),
        Case(label: "unknown dtype",
             bytes: file("{" + entry("a", dtype: "F31", offsets: "[0,4]") + "}", four), kind: .badHeader, mentions: "F31"),
        Case(label: "unknown field",
             bytes: file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}"#, four), kind: .badHeader, mentions: "\"x\""),
        Case(label: "metadata value not a string",
             bytes: file(#"{"__metadata__":{"step":3}}"#, []), kind: .badHeader, mentions: "step"),
        Case(label: "well-formed F16 tensor",
             bytes: file("{" + entry("h", dtype: "F16", shape: "[2]", offsets: "[0,4]") + "}", four),
             kind: .unsupportedDType, mentions: "F16"),
    ]

    @Test(arguments: cases)
    func rejected(_ example: Case) {
        do {
            let file = try SafetensorsFile(decoding: example.bytes, source: "bad.safetensors")
            Issue.record("accepted \(example.label): \(file)")
        } catch let error as CheckpointError {
            #expect(error.kind == example.kind, "\(error)")
            #expect(error.message.hasPrefix("bad.safetensors: "), "\(error)")
            #expect(error.message.contains(example.mentions), "\(error)")
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    /// Every prefix of a valid file is refused (never a crash, never a partial result).
    @Test func everyTruncationOfAValidFileIsRefused() throws {
        let bytes = try SafetensorsFile(tensors: [
            NamedTensor(name: "a", shape: [2, 2], values: [1, 2, 3, 4]), NamedTensor(name: "b", shape: [], values: [5]),
        ]).encoded()
        for length in 0..<bytes.count {
            #expect(throws: CheckpointError.self, "prefix of \(length) bytes") {
                try SafetensorsFile(decoding: Array(bytes.prefix(length)), source: "cut")
            }
        }
    }
}
