import Core
import Dataset
import Foundation
@testable import Model
import Testing

/// Runs the ONNX export with the reference runtime (`onnxruntime` from PyPI) and the reference
/// checker (`onnx`). Skipped, with the reason, without `python3` and those packages
/// (`pip install onnxruntime onnx numpy`; scripts/test.sh installs them).
enum ONNXRuntime {
    static let script = #"""
    import sys
    import numpy as np
    import onnx
    import onnxruntime as ort

    model_path, input_path, shape, output_path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    image = np.fromfile(input_path, dtype="<f4").reshape([int(d) for d in shape.split(",")])
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"], session.get_inputs()
    logits, probabilities = session.run(["logits", "probabilities"], {"image": image})
    np.concatenate([logits.reshape(-1), probabilities.reshape(-1)]).astype("<f4").tofile(output_path)
    print(logits.shape)
    """#

    static let isAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import onnxruntime, onnx, numpy"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Runs the model on `input` and returns (logits, probabilities), each `batch * 2 * h * w`.
    static func run(model: [UInt8], input: [Float], shape: [Int]) throws -> (logits: [Float], probabilities: [Float], stderr: String) {
        let directory = NSTemporaryDirectory() + "grove-onnx-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(model).write(to: URL(fileURLWithPath: directory + "/model.onnx"))
        try input.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: directory + "/input.f32"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, directory + "/model.onnx", directory + "/input.f32",
                             shape.map(String.init).joined(separator: ","), directory + "/output.f32"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return ([], [], stderr) }
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/output.f32"))
        let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return (Array(values[0..<(values.count / 2)]), Array(values[(values.count / 2)...]), stderr)
    }
}

@Suite struct ONNXExportTests {
    /// Parameters with every scale, shift and bias away from its initial value, so that a
    /// transposed or misplaced tensor shows.
    static func parameters(_ net: CanopyNet, seed: UInt64) -> [Float] {
        var parameters = net.initialParameters(seed: seed)
        var generator = SplitMix64(seed: seed, stream: 99)
        for entry in net.layout.entries where !entry.name.hasSuffix(".weight") {
            for i in entry.offset..<(entry.offset + entry.count) { parameters[i] += Float(generator.nextGaussian() * 0.3) }
        }
        return parameters
    }

    /// Largest absolute difference between ONNX Runtime's outputs and Grove's forward pass.
    static func compare(_ settings: CanopyNet.Settings, width: Int, height: Int) throws -> (logits: Float, probabilities: Float)? {
        let net = CanopyNet(settings: settings)
        let parameters = Self.parameters(net, seed: 11)
        let tiles = (0..<2).map { n in
            Fixtures.tile(id: "t\(n)", width: width, height: height, bands: settings.inputBands,
                          crowns: [(Float(width) * 0.3, Float(height) * 0.4, 9), (Float(width) * 0.7, Float(height) * 0.6, 13)], seed: UInt64(n + 1))
        }
        let grove = parameters.withUnsafeBufferPointer { net.forward(net.makeInput(tiles), parameters: $0).logits.storage }
        let input = tiles.flatMap { $0.pixels.map(Float.init) }
        let (logits, probabilities, stderr) = try ONNXRuntime.run(
            model: net.onnxModel(parameters: parameters, producerVersion: "test"), input: input,
            shape: [tiles.count, settings.inputBands, height, width])
        guard logits.count == grove.count else {
            Issue.record("onnxruntime failed or returned \(logits.count) values for \(grove.count): \(stderr)")
            return nil
        }
        let logitError = zip(logits, grove).map { abs($0 - $1) }.max()!
        let probabilityError = zip(probabilities, grove).map { abs($0 - 1 / (1 + exp(-$1))) }.max()!
        return (logitError, probabilityError)
    }

    @Test(.enabled(if: ONNXRuntime.isAvailable, "python3 with onnxruntime, onnx and numpy is not installed (pip install onnxruntime onnx numpy)"))
    func onnxRuntimeAgreesWithGrovesForwardPass() throws {
        // Stated tolerance (docs/model.md): logits within 1e-4, probabilities within 2e-5 (measured
        // about 1e-5 and 2e-6 with onnxruntime 1.32 on x86-64). The
        // runtimes sum the convolutions in different orders, so the bits differ.
        for (settings, width, height) in [(CanopyNet.Settings(inputBands: 3, baseWidth: 8, depth: 3), 64, 48),
                                          (CanopyNet.Settings(inputBands: 4, baseWidth: 4, depth: 2), 36, 20)] {
            let errors = try #require(try Self.compare(settings, width: width, height: height))
            print("onnxruntime against Grove, \(net(settings)) on \(width)x\(height): largest logit difference \(errors.logits), probability \(errors.probabilities)")
            #expect(errors.logits < 1e-4, "\(net(settings)): largest logit difference \(errors.logits)")
            #expect(errors.probabilities < 2e-5, "\(net(settings)): largest probability difference \(errors.probabilities)")
        }
    }

    @Test(.enabled(if: ONNXRuntime.isAvailable, "python3 with onnxruntime, onnx and numpy is not installed (pip install onnxruntime onnx numpy)"))
    func aTamperedExportDisagrees() throws {
        // The comparison can fail: swap two decoder scales in the exported weights and it does.
        let settings = CanopyNet.Settings(inputBands: 3, baseWidth: 4, depth: 2)
        let net = CanopyNet(settings: settings)
        var parameters = Self.parameters(net, seed: 11)
        let tile = Fixtures.tile(width: 32, height: 32, crowns: [(10, 12, 6), (22, 20, 8)])
        let grove = parameters.withUnsafeBufferPointer { net.forward(net.makeInput([tile]), parameters: $0).logits.storage }
        let gamma = try #require(net.layout["dec0.conv2.gamma"])
        parameters.swapAt(gamma.offset, gamma.offset + 1)
        let (logits, _, stderr) = try ONNXRuntime.run(model: net.onnxModel(parameters: parameters, producerVersion: "test"),
                                                      input: tile.pixels.map(Float.init), shape: [1, 3, 32, 32])
        try #require(logits.count == grove.count, "onnxruntime failed: \(stderr)")
        #expect(zip(logits, grove).map { abs($0 - $1) }.max()! > 1e-2)
    }

    func net(_ settings: CanopyNet.Settings) -> String { CanopyNet(settings: settings).schemaName }

    @Test func exportNamesEveryParameterAsAnInitializer() {
        let net = CanopyNet(settings: .init(baseWidth: 4, depth: 1))
        let bytes = net.onnxModel(parameters: net.initialParameters(seed: 1), producerVersion: "test")
        // Every parameter name and the graph's input and outputs appear as strings in the encoding.
        let text = String(decoding: bytes, as: UTF8.self)
        for entry in net.layout.entries { #expect(text.contains(entry.name), "\(entry.name) missing") }
        for name in ["image", "logits", "probabilities", "InstanceNormalization", "Resize"] { #expect(text.contains(name)) }
        // The model's float payload is at least its parameters.
        #expect(bytes.count > net.layout.count * 4)
    }
}
