extension CanopyNet {
    /// The ONNX opset the export targets (onnxruntime has run it since 1.13).
    public static let onnxOpset = 17

    /// CanopyNet and its weights as an ONNX model (opset 17), runnable outside Grove.
    ///
    /// Input `image`: float32 `[batch, bands, height, width]`, raw pixel values 0–255 (the graph
    /// divides by 255 and subtracts `bandMeans`, as Grove's input does); height and width must be
    /// multiples of `2^depth`. Outputs, float32 `[batch, 2, height, width]`: `logits` and
    /// `probabilities` (their sigmoid); channel 0 is canopy, channel 1 the tree-centre heatmap.
    ///
    /// GroupNorm is written as Reshape to `[batch, groups, -1]`, InstanceNormalization (same
    /// epsilon, population variance) and Reshape back, then the per-channel scale and shift, so
    /// that every runtime with opset 17 runs it; x2 upsampling is Resize `nearest` with `asymmetric`
    /// coordinates and `floor`, which repeats each pixel as `Upsample2x` does.
    public func onnxModel(parameters: [Float], producerVersion: String, metadata: [(String, String)] = []) -> [UInt8] {
        precondition(parameters.count == layout.count, "CanopyNet needs \(layout.count) parameters, got \(parameters.count)")
        var nodes: [ONNX.Node] = []
        var initializers: [ONNX.TensorValue] = []
        func node(_ op: String, _ inputs: [String], _ output: String, _ attributes: [ONNX.Attribute] = []) -> String {
            nodes.append(ONNX.Node(op: op, inputs: inputs, outputs: [output], name: output, attributes: attributes))
            return output
        }
        func parameter(_ name: String, dims: [Int]? = nil) -> String {
            let entry = layout[name]!
            let values = Array(parameters[entry.offset..<(entry.offset + entry.count)])
            initializers.append(.floats(name, dims ?? entry.shape, values))
            return name
        }
        let bands = settings.inputBands
        initializers.append(.floats("input.scale", [], [1 / 255]))
        initializers.append(.floats("input.means", [1, bands, 1, 1], Array(settings.bandMeans.prefix(bands))))
        initializers.append(.floats("upsample.scales", [4], [1, 1, 2, 2]))
        var x = node("Mul", ["image", "input.scale"], "input.scaled")
        x = node("Sub", [x, "input.means"], "input.normalized")

        func block(_ name: String, _ block: ConvNormReLU, _ input: String) -> String {
            let channels = block.conv.outChannels, groups = block.norm.groups
            let conv = node("Conv", [input, parameter(name + ".weight")], name + ".conv",
                            [.ints("kernel_shape", [3, 3]), .ints("pads", [1, 1, 1, 1]), .ints("strides", [1, 1])])
            let shape = node("Shape", [conv], name + ".shape")
            initializers.append(.int64s(name + ".grouped_shape", [0, groups, -1]))
            initializers.append(.floats(name + ".unit_scale", [groups], [Float](repeating: 1, count: groups)))
            initializers.append(.floats(name + ".zero_shift", [groups], [Float](repeating: 0, count: groups)))
            let grouped = node("Reshape", [conv, name + ".grouped_shape"], name + ".grouped")
            let normalized = node("InstanceNormalization", [grouped, name + ".unit_scale", name + ".zero_shift"], name + ".normalized",
                                  [.float("epsilon", block.norm.epsilon)])
            let restored = node("Reshape", [normalized, shape], name + ".restored")
            let scaled = node("Mul", [restored, parameter(name + ".gamma", dims: [channels, 1, 1])], name + ".scaled")
            let shifted = node("Add", [scaled, parameter(name + ".beta", dims: [channels, 1, 1])], name + ".shifted")
            return node("Relu", [shifted], name + ".out")
        }

        var skips: [String] = []
        for (level, blocks) in encoder.enumerated() {
            if level > 0 { x = node("MaxPool", [x], "enc\(level).pool", [.ints("kernel_shape", [2, 2]), .ints("strides", [2, 2])]) }
            x = block("enc\(level).conv1", blocks[0], x)
            x = block("enc\(level).conv2", blocks[1], x)
            skips.append(x)
        }
        for level in (0..<decoder.count).reversed() {
            let up = node("Resize", [x, "", "upsample.scales"], "dec\(level).upsample",
                          [.string("mode", "nearest"), .string("coordinate_transformation_mode", "asymmetric"), .string("nearest_mode", "floor")])
            x = node("Concat", [up, skips[level]], "dec\(level).concat", [.int("axis", 1)])
            x = block("dec\(level).conv1", decoder[level][0], x)
            x = block("dec\(level).conv2", decoder[level][1], x)
        }
        let logits = node("Conv", [x, parameter("head.weight"), parameter("head.bias")], "logits",
                          [.ints("kernel_shape", [1, 1]), .ints("strides", [1, 1])])
        _ = node("Sigmoid", [logits], "probabilities")

        let spatial: [ONNX.ValueInfo.Dim] = [.symbol("height"), .symbol("width")]
        return ONNX.model(
            graphName: "canopy_net", nodes: nodes, initializers: initializers,
            inputs: [ONNX.ValueInfo(name: "image", dims: [.symbol("batch"), .value(bands)] + spatial)],
            outputs: [ONNX.ValueInfo(name: "logits", dims: [.symbol("batch"), .value(2)] + spatial),
                      ONNX.ValueInfo(name: "probabilities", dims: [.symbol("batch"), .value(2)] + spatial)],
            opset: Self.onnxOpset, producerVersion: producerVersion,
            docString: "\(schemaName). Input: float pixels 0-255, NCHW, sides multiples of \(1 << settings.depth). "
                + "Outputs: channel 0 canopy, channel 1 tree-centre heatmap.",
            metadata: [("grove_schema", schemaName)] + metadata)
    }
}
