import Checkpoint

/// safetensors files (`SafetensorsFile(decoding:source:)`, Checkpoint/SafetensorsFile+Decode.swift):
/// the header length, the JSON header and the tensors' offsets.
///
/// Oracle: a file that decodes re-encodes to a file that decodes to the same tensors.
let safetensorsTarget = FuzzTarget(
    name: "safetensors",
    summary: "safetensors headers (Checkpoint/SafetensorsFile+Decode.swift)",
    run: { data in
        guard let file = try? SafetensorsFile(decoding: Array(data), source: "fuzz") else { return }
        guard let encoded = try? file.encoded(), let again = try? SafetensorsFile(decoding: encoded, source: "re-encoded") else {
            finding("a decoded safetensors file does not decode after encoding")
        }
        guard (try? again.encoded()) == encoded else { finding("a safetensors file is not stable under encode(decode(_))") }
    },
    seeds: {
        let file = SafetensorsFile(
            tensors: [NamedTensor(name: "model.w", shape: [2, 2], values: [1, 2, 3, 4]), NamedTensor(name: "model.b", shape: [2], values: [0.5, -1]),
                      NamedTensor(name: "empty", shape: [0], values: [])],
            metadata: ["format": "pt", "step": "4"])
        var handWritten = Array(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"v\u00e9"}}"#.utf8)
        while handWritten.count % 8 != 0 { handWritten.append(0x20) }
        var length = UInt64(handWritten.count).littleEndian
        let prefix = withUnsafeBytes(of: &length) { Array($0) }
        return [
            (name: "three-tensors", bytes: (try? file.encoded()) ?? []),
            (name: "hand-written", bytes: prefix + handWritten + [0, 0, 0x80, 0x3F]),
        ]
    }
)
