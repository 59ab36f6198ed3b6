import Tensor

/// A slice of a flat parameter buffer: where one tensor of a layer lives.
public struct ParameterSlice: Sendable, Hashable {
    public var offset: Int
    public var count: Int

    @inline(__always) func read(_ buffer: UnsafeBufferPointer<Float>) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: buffer[offset..<(offset + count)])
    }

    @inline(__always) func write(_ buffer: UnsafeMutableBufferPointer<Float>) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: buffer[offset..<(offset + count)])
    }
}

/// The building block of CanopyNet: 3x3 convolution (no bias: the normalisation removes it), then
/// GroupNorm with a per-channel scale and shift, then ReLU.
public struct ConvNormReLU: Sendable, Hashable {
    public var conv: Conv2D
    public var norm: GroupNorm
    public var weight: ParameterSlice
    public var gamma: ParameterSlice
    public var beta: ParameterSlice

    /// Registers `<name>.weight [out, in, 3, 3]`, `<name>.gamma [out]`, `<name>.beta [out]` in order.
    init(name: String, inChannels: Int, outChannels: Int, groups: Int, layout: inout ParameterLayout) {
        conv = Conv2D(inChannels: inChannels, outChannels: outChannels, kernel: 3)
        norm = GroupNorm(channels: outChannels, groups: ConvNormReLU.groupCount(channels: outChannels, requested: groups))
        weight = ParameterSlice(offset: layout.add("\(name).weight", [outChannels, inChannels, 3, 3]), count: conv.weightCount)
        gamma = ParameterSlice(offset: layout.add("\(name).gamma", [outChannels]), count: outChannels)
        beta = ParameterSlice(offset: layout.add("\(name).beta", [outChannels]), count: outChannels)
    }

    /// The largest group count not above `requested` that divides `channels`, so any width works.
    static func groupCount(channels: Int, requested: Int) -> Int {
        var groups = max(1, min(requested, channels))
        while channels % groups != 0 { groups -= 1 }
        return groups
    }

    /// The activations the backward pass needs.
    public struct Cache: Sendable {
        var input: Tensor
        var norm: GroupNorm.Saved
        var output: Tensor
    }

    func forward(_ x: Tensor, parameters: UnsafeBufferPointer<Float>, pool: ComputePool) -> Cache {
        let convolved = conv.forward(x, weight: weight.read(parameters), bias: nil, pool: pool)
        let (normalized, saved) = norm.forward(convolved, gamma: gamma.read(parameters), beta: beta.read(parameters), pool: pool)
        return Cache(input: x, norm: saved, output: Activation.relu(normalized, pool: pool))
    }

    /// Adds this block's parameter gradients and returns the input gradient (nil when not needed).
    func backward(_ cache: Cache, outputGradient: Tensor, parameters: UnsafeBufferPointer<Float>,
                  gradient: UnsafeMutableBufferPointer<Float>, needsInputGradient: Bool, pool: ComputePool) -> Tensor? {
        let dNormalized = Activation.reluBackward(output: cache.output, outputGradient: outputGradient, pool: pool)
        let dConvolved = norm.backward(outputGradient: dNormalized, saved: cache.norm, gamma: gamma.read(parameters),
                                       gammaGradient: gamma.write(gradient), betaGradient: beta.write(gradient), pool: pool)
        return conv.backward(input: cache.input, outputGradient: dConvolved, weight: weight.read(parameters),
                             weightGradient: weight.write(gradient), biasGradient: nil,
                             needsInputGradient: needsInputGradient, pool: pool)
    }
}
