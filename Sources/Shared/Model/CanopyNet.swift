import Core
import Dataset
import Tensor

/// A small U-Net for tree canopy: per-pixel canopy logits and a tree-centre heatmap, from 3-band
/// (RGB) or 4-band (RGB + near-infrared) tiles.
///
/// Architecture (`w` = base width, `D` = depth, channels `c_l = w * 2^l`):
/// - encoder level 0: two ConvNormReLU blocks, bands -> c_0 -> c_0;
/// - encoder level l = 1...D: 2x2 max-pool, then two blocks c_(l-1) -> c_l -> c_l;
/// - decoder level l = D-1...0: x2 nearest upsampling, concatenation `[upsampled, encoder l]`,
///   two blocks (c_(l+1) + c_l) -> c_l -> c_l;
/// - head: 1x1 convolution with bias, c_0 -> 2 (channel 0 canopy logit, channel 1 centre logit).
///
/// Parameter order in the flat buffer: `enc0.conv1`, `enc0.conv2`, `enc1.conv1`, ... `encD.conv2`,
/// then `dec(D-1).conv1`, `dec(D-1).conv2`, ... `dec0.conv2`, each as `.weight [out, in, 3, 3]`,
/// `.gamma [out]`, `.beta [out]`; then `head.weight [2, c_0, 1, 1]` and `head.bias [2]`.
///
/// Loss per sample: canopy BCE + `diceWeight` * soft Dice + `centreWeight` * centre BCE against a
/// Gaussian heatmap (positive-weighted). Tile sides must be multiples of `2^D`.
public struct CanopyNet: TrainableModel {
    public let settings: Settings
    public let layout: ParameterLayout
    let encoder: [[ConvNormReLU]]
    let decoder: [[ConvNormReLU]]
    let head: Conv2D
    let headWeight: ParameterSlice
    let headBias: ParameterSlice

    /// Builds the layers and the parameter layout, or throws the first setting out of range (for
    /// settings that come from a user's configuration).
    public init(checking settings: Settings) throws(SettingsError) {
        try settings.validate()
        self.init(settings: settings)
    }

    /// Builds the layers and the parameter layout; `settings` must pass `validate()` (use
    /// `init(checking:)` for settings that come from a user).
    public init(settings: Settings) {
        do { try settings.validate() } catch { preconditionFailure("\(error)") }
        self.settings = settings
        var layout = ParameterLayout()
        let widths = (0...settings.depth).map { settings.baseWidth << $0 }
        var encoder: [[ConvNormReLU]] = []
        for level in 0...settings.depth {
            let input = level == 0 ? settings.inputBands : widths[level - 1]
            encoder.append([
                ConvNormReLU(name: "enc\(level).conv1", inChannels: input, outChannels: widths[level], groups: settings.groups, layout: &layout),
                ConvNormReLU(name: "enc\(level).conv2", inChannels: widths[level], outChannels: widths[level], groups: settings.groups, layout: &layout),
            ])
        }
        var decoder = [[ConvNormReLU]](repeating: [], count: settings.depth)
        for level in (0..<settings.depth).reversed() {
            decoder[level] = [
                ConvNormReLU(name: "dec\(level).conv1", inChannels: widths[level + 1] + widths[level], outChannels: widths[level], groups: settings.groups, layout: &layout),
                ConvNormReLU(name: "dec\(level).conv2", inChannels: widths[level], outChannels: widths[level], groups: settings.groups, layout: &layout),
            ]
        }
        head = Conv2D(inChannels: widths[0], outChannels: 2, kernel: 1)
        headWeight = ParameterSlice(offset: layout.add("head.weight", [2, widths[0], 1, 1]), count: head.weightCount)
        headBias = ParameterSlice(offset: layout.add("head.bias", [2]), count: 2)
        self.encoder = encoder
        self.decoder = decoder
        self.layout = layout
    }

    public var schemaName: String {
        "canopy-net(bands: \(settings.inputBands), width: \(settings.baseWidth), depth: \(settings.depth), groups: \(settings.groups))"
    }

    /// Parameters in the flat buffer.
    public var parameterCount: Int { layout.count }
    public var inputBands: Int { settings.inputBands }

    /// Floating-point operations per sample for a `height x width` tile (a multiply-add counts 2):
    /// the convolutions of the forward pass, and of a training step (forward, input gradients
    /// except for the first layer, weight gradients). Normalisation and pointwise work are
    /// excluded; they are a few percent.
    public func flopsPerSample(height: Int = 128, width: Int = 128) -> (forward: Int, training: Int) {
        var forward = 0, inputGradients = 0
        for (level, blocks) in encoder.enumerated() {
            for (index, block) in blocks.enumerated() {
                let f = block.conv.flops(height: height >> level, width: width >> level)
                forward += f
                if level > 0 || index > 0 { inputGradients += f }
            }
        }
        for (level, blocks) in decoder.enumerated() {
            for block in blocks { let f = block.conv.flops(height: height >> level, width: width >> level); forward += f; inputGradients += f }
        }
        let h = head.flops(height: height, width: width)
        forward += h
        inputGradients += h
        return (forward, 2 * forward + inputGradients)
    }

    /// He-normal convolution weights (drawn in layout order from one seeded stream), unit scales,
    /// zero shifts, small head weights and head biases set to the prior log-odds of each target.
    public func initialParameters(seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: seed, stream: 0x4341_4E4F)
        var parameters = [Float](repeating: 0, count: layout.count)
        for block in (encoder + decoder).flatMap({ $0 }) {
            let scale = (2.0 / Double(block.conv.patchSize)).squareRoot()
            for i in 0..<block.weight.count { parameters[block.weight.offset + i] = Float(generator.nextGaussian() * scale) }
            for i in 0..<block.gamma.count { parameters[block.gamma.offset + i] = 1 }
        }
        let headScale = (1.0 / Double(head.patchSize)).squareRoot()
        for i in 0..<headWeight.count { parameters[headWeight.offset + i] = Float(generator.nextGaussian() * headScale) }
        parameters[headBias.offset] = settings.canopyPriorLogit
        parameters[headBias.offset + 1] = settings.centrePriorLogit
        return parameters
    }

    public func accumulateGradient(
        parameters: UnsafeBufferPointer<Float>, samples: [Tile], into gradient: UnsafeMutableBufferPointer<Float>,
        forwardEnded: () -> Void
    ) -> BatchLoss {
        accumulateGradient(parameters: parameters, samples: samples, into: gradient, forwardEnded: forwardEnded, finalFrom: { _ in })
    }

    /// The backward pass runs the head first, then the decoder from level 0 up, then the encoder
    /// from level D down, and each block writes only its own parameters: the reverse of the
    /// layout's order, so each finished block completes a suffix of the flat buffer.
    public var gradientSuffixes: [Int] {
        var offsets = [headWeight.offset]
        for level in 0..<decoder.count { offsets += decoder[level].reversed().map(\.weight.offset) }
        for level in (0..<encoder.count).reversed() { offsets += encoder[level].reversed().map(\.weight.offset) }
        return offsets
    }

    public func accumulateGradient(
        parameters: UnsafeBufferPointer<Float>, samples: [Tile], into gradient: UnsafeMutableBufferPointer<Float>,
        forwardEnded: () -> Void, finalFrom: (Int) -> Void
    ) -> BatchLoss {
        precondition(parameters.count == layout.count, "CanopyNet needs \(layout.count) parameters, got \(parameters.count)")
        precondition(gradient.count == layout.count, "CanopyNet gradient needs \(layout.count) values, got \(gradient.count)")
        guard !samples.isEmpty else { return BatchLoss(perSample: []) }
        let input = makeInput(samples)
        let cache = forward(input, parameters: parameters)
        let (losses, dLogits) = lossAndGradient(logits: cache.logits, targets: makeTargets(samples))
        forwardEnded()
        backward(cache, logitGradient: dLogits, parameters: parameters, gradient: gradient, finalFrom: finalFrom)
        return BatchLoss(perSample: losses.map { Float($0) })
    }

    /// The loss of each sample without a backward pass (validation), in Double.
    public func loss(parameters: UnsafeBufferPointer<Float>, samples: [Tile]) -> [Double] {
        guard !samples.isEmpty else { return [] }
        let cache = forward(makeInput(samples), parameters: parameters)
        return lossAndGradient(logits: cache.logits, targets: makeTargets(samples)).perSample
    }

    /// Canopy probabilities and the centre heatmap (both in [0, 1], row-major `height x width`).
    public func predict(parameters: [Float], tile: Tile) -> (canopy: [Float], centres: [Float]) {
        let logits = parameters.withUnsafeBufferPointer { forward(makeInput([tile]), parameters: $0).logits }
        let plane = tile.pixelCount
        return (logits.storage[0..<plane].map { Activation.sigmoid($0) },
                logits.storage[plane..<(2 * plane)].map { Activation.sigmoid($0) })
    }
}
