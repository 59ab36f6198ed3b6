import Core
import Wire

/// Streamed training states (`StateAssembler`, Wire/StateAssembler.swift): the bytes a joiner or
/// a checkpoint fetches from a member's state server, chunk by chunk.
///
/// Input: one byte that seeds the chunk sizes, then the stream. Oracle: the stream assembles the
/// same way (or fails with the same code) whether it arrives whole or in chunks, its hash is the
/// SHA-256 of the stream, and its `StateImage` assembles back to the same image.
let stateStreamTarget = FuzzTarget(
    name: "state-stream",
    summary: "streamed states (Wire/StateAssembler.swift)",
    run: { data in
        guard let seed = data.first else { return }
        let stream = Array(data.dropFirst())
        func assemble(_ chunks: [ArraySlice<UInt8>]) -> Result<(state: Wire.State, sha256: [UInt8]), WireError> {
            var assembler = StateAssembler(maxValues: 1 << 16, maxTensors: 64)
            do throws(WireError) {
                for chunk in chunks { try assembler.consume(Array(chunk)) }
                return .success(try assembler.finish())
            } catch {
                return .failure(error)
            }
        }
        var chunks: [ArraySlice<UInt8>] = []
        var at = 0, size = Int(seed % 13) + 1
        while at < stream.count {
            let end = min(stream.count, at + size)
            chunks.append(stream[at..<end])
            at = end
            size = (size * 7 + Int(seed)) % 29 + 1
        }
        let whole = assemble([stream[...]]), pieces = assemble(chunks)
        switch (whole, pieces) {
        case (.success(let a), .success(let b)):
            guard a.sha256 == b.sha256, a.state.step == b.state.step, a.state.tensors.map(\.name) == b.state.tensors.map(\.name) else {
                finding("a state assembles differently in chunks")
            }
            guard a.sha256 == SHA256.hash(stream) else { finding("an assembled state's hash is not its stream's SHA-256") }
            // Names that are not UTF-8 are repaired, so the image may differ from the stream once;
            // assembling the image must give it back exactly.
            let image = StateImage(a.state)
            let once = image.bytes(from: 0, count: image.byteCount)
            guard case .success(let again) = assemble([once[...]]) else { finding("an assembled state's image does not assemble") }
            let second = StateImage(again.state)
            guard second.bytes(from: 0, count: second.byteCount) == once else { finding("a state is not stable under image(assemble(_))") }
        case (.failure(let a), .failure(let b)):
            guard a.code == b.code else { finding("whole: \(a.code), in chunks: \(b.code)") }
        default:
            finding("the stream assembles whole or in chunks but not both: \(whole) / \(pieces)")
        }
    },
    seeds: {
        let state = Wire.State(step: 6, tensors: [Wire.Tensor(name: "w", values: [1, 2, 3]), Wire.Tensor(name: "", values: []),
                                                  Wire.Tensor(name: "adam.m.w", values: [0.5])])
        let image = StateImage(state)
        let empty = StateImage(Wire.State(step: 1, tensors: []))
        return [
            (name: "three-tensors", bytes: [3] + image.bytes(from: 0, count: image.byteCount)),
            (name: "no-tensors", bytes: [0] + empty.bytes(from: 0, count: empty.byteCount)),
        ]
    }
)
