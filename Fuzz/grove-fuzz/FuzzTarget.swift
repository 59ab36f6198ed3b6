import Foundation

/// One decoder under fuzzing: what it feeds the decoder, and the seed inputs it starts from.
///
/// `run` must never crash, trap, leak or allocate beyond what its input justifies, whatever the
/// bytes; where a decoder can check itself (decode, encode, decode again) `run` asserts that too,
/// so a wrong answer is a finding as much as a crash.
struct FuzzTarget: Sendable {
    var name: String
    var summary: String
    var run: @Sendable (UnsafeRawBufferPointer) -> Void
    /// Valid (and a few deliberately broken) inputs, named; the committed corpus is these.
    var seeds: @Sendable () -> [(name: String, bytes: [UInt8])]

    func writeSeeds(into directory: String) throws {
        let folder = URL(fileURLWithPath: directory).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for seed in seeds() {
            try Data(seed.bytes).write(to: folder.appendingPathComponent(seed.name))
        }
    }
}

/// Stops the fuzzer with a message: libFuzzer records the input as a crash.
func finding(_ message: String) -> Never {
    fatalError("fuzz oracle: \(message)")
}
