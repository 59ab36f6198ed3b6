import Foundation
import Testing
@testable import Checkpoint

/// Runs Python with the reference `safetensors` package (the one Hugging Face publishes) against
/// files Grove wrote, and reads a file it wrote. Skipped, with the reason, when `python3` or the
/// package is missing (`pip install safetensors numpy`).
enum PythonInterop {
    /// The checks on the Python side. Kept here rather than as a resource file so the test target
    /// needs no resource declarations.
    static let script = #"""
    import json, sys
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import load_file, save, save_file

    checkpoint, out_path = sys.argv[1], sys.argv[2]
    report = {}
    for name in ("weights.safetensors", "optimizer.safetensors"):
        path = checkpoint + "/" + name
        tensors = load_file(path)
        with safe_open(path, framework="numpy") as f:
            keys = list(f.keys())
            metadata = f.metadata()
        report[name] = {
            "keys": keys,
            "metadata": metadata,
            "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape), "values": v.reshape(-1).tolist()}
                        for k, v in tensors.items()},
        }
    report["golden_hex"] = save({"a": np.array([1.0, -2.0], dtype=np.float32)}, metadata={"k": "v"}).hex()
    save_file({
        "beta": (np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5),
        "alpha": np.array(7.25, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }, out_path, metadata={"written_by": "python"})
    json.dump(report, sys.stdout)
    """#

    static let isAvailable: Bool = (try? run(["-c", "import safetensors, numpy"]).status) == 0

    static func run(_ arguments: [String]) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }
}

@Suite struct PythonInteropTests {
    struct TensorReport: Decodable { var dtype: String; var shape: [Int]; var values: [Double] }
    struct FileReport: Decodable { var keys: [String]; var metadata: [String: String]?; var tensors: [String: TensorReport] }

    @Test(.enabled(if: PythonInterop.isAvailable, "python3 with the safetensors and numpy packages is not installed"))
    func referenceImplementationReadsGroveFilesAndGroveReadsItsFiles() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let checkpoint = Fixtures.checkpoint(step: 17)
        let info = try CheckpointStore(directory: scratch.path, keep: 1).write(checkpoint)
        let pythonFile = scratch.path + "/from-python.safetensors"

        let (status, output) = try PythonInterop.run(["-c", PythonInterop.script, info.path, pythonFile])
        try #require(status == 0, "the Python checks failed with status \(status)")
        let json = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])

        let decoder = JSONDecoder()
        for (name, expected) in [("weights.safetensors", checkpoint.parameters), ("optimizer.safetensors", checkpoint.optimizerState)] {
            let report = try decoder.decode(FileReport.self, from: JSONSerialization.data(withJSONObject: json[name] as Any))
            #expect(Set(report.keys) == Set(expected.map(\.name)))
            for tensor in expected {
                let seen = try #require(report.tensors[tensor.name])
                #expect(seen.dtype == "float32")
                #expect(seen.shape == tensor.shape)
                #expect(seen.values.map { Float($0) } == tensor.values)
            }
            if name == "weights.safetensors" { #expect(report.metadata?["grove.step"] == "17") }
        }

        let golden = try SafetensorsFile(tensors: [NamedTensor(name: "a", shape: [2], values: [1, -2])], metadata: ["k": "v"]).encoded()
        #expect(json["golden_hex"] as? String == golden.map { String(format: "%02x", $0) }.joined())

        let fromPython = try SafetensorsFile(decoding: Fixtures.read(pythonFile), source: pythonFile)
        #expect(fromPython.metadata == ["written_by": "python"])
        let byName = Dictionary(uniqueKeysWithValues: fromPython.tensors.map { ($0.name, $0) })
        #expect(byName["beta"] == NamedTensor(name: "beta", shape: [2, 3], values: [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]))
        #expect(byName["alpha"] == NamedTensor(name: "alpha", shape: [], values: [7.25]))
        #expect(byName["empty"] == NamedTensor(name: "empty", shape: [0, 4], values: []))
    }
}
