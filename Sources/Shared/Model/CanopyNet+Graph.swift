import Core
import Tensor

extension CanopyNet {
    /// Every activation of one forward pass that the backward pass reads.
    struct ForwardCache {
        var encoder: [[ConvNormReLU.Cache]] = []
        /// Per encoder level >= 1: the max-pool winners and the pooled input's shape.
        var pools: [(argmax: [Int32], inputShape: TensorShape)] = []
        var decoder: [[ConvNormReLU.Cache]] = []
        var headInput: Tensor
        var logits: Tensor
    }

    var pool: ComputePool { ComputePool(threads: settings.threads) }

    func forward(_ input: Tensor, parameters: UnsafeBufferPointer<Float>) -> ForwardCache {
        // A step frees and re-allocates the same tensors: keep their pages in the process.
        AllocatorPolicy.retainFreedMemory()
        let side = 1 << settings.depth
        precondition(input.shape.height % side == 0 && input.shape.width % side == 0,
                     "CanopyNet depth \(settings.depth) needs tile sides divisible by \(side), got \(input.shape.height)x\(input.shape.width)")
        var encoderCaches: [[ConvNormReLU.Cache]] = []
        var pools: [(argmax: [Int32], inputShape: TensorShape)] = []
        var x = input
        for (level, blocks) in encoder.enumerated() {
            if level > 0 {
                let (pooled, argmax) = MaxPool2x2.forward(x, pool: pool)
                pools.append((argmax, x.shape))
                x = pooled
            }
            var caches: [ConvNormReLU.Cache] = []
            for block in blocks {
                caches.append(block.forward(x, parameters: parameters, pool: pool))
                x = caches[caches.count - 1].output
            }
            encoderCaches.append(caches)
        }
        var decoderCaches = [[ConvNormReLU.Cache]](repeating: [], count: decoder.count)
        for level in (0..<decoder.count).reversed() {
            x = ChannelConcat.forward(Upsample2x.forward(x, pool: pool), encoderCaches[level].last!.output, pool: pool)
            for block in decoder[level] {
                decoderCaches[level].append(block.forward(x, parameters: parameters, pool: pool))
                x = decoderCaches[level].last!.output
            }
        }
        let logits = head.forward(x, weight: headWeight.read(parameters), bias: headBias.read(parameters), pool: pool)
        return ForwardCache(encoder: encoderCaches, pools: pools, decoder: decoderCaches, headInput: x, logits: logits)
    }

    /// Adds the gradient of the summed loss, given its gradient with respect to the logits, and
    /// reports each suffix of `gradientSuffixes` to `finalFrom` as it is complete.
    func backward(_ cache: ForwardCache, logitGradient: Tensor, parameters: UnsafeBufferPointer<Float>,
                  gradient: UnsafeMutableBufferPointer<Float>, finalFrom: (Int) -> Void = { _ in }) {
        var g = head.backward(input: cache.headInput, outputGradient: logitGradient, weight: headWeight.read(parameters),
                              weightGradient: headWeight.write(gradient), biasGradient: headBias.write(gradient), pool: pool)!
        finalFrom(headWeight.offset)
        var skipGradients = [Tensor?](repeating: nil, count: encoder.count)
        for level in 0..<decoder.count {
            for (index, block) in decoder[level].enumerated().reversed() {
                g = block.backward(cache.decoder[level][index], outputGradient: g, parameters: parameters,
                                   gradient: gradient, needsInputGradient: true, pool: pool)!
                finalFrom(block.weight.offset)
            }
            let (upsampled, skip) = ChannelConcat.backward(outputGradient: g, firstChannels: encoder[level + 1].last!.conv.outChannels, pool: pool)
            skipGradients[level] = skip
            g = Upsample2x.backward(outputGradient: upsampled, pool: pool)
        }
        for level in (0..<encoder.count).reversed() {
            if let skip = skipGradients[level] { g.add(skip) }
            for (index, block) in encoder[level].enumerated().reversed() {
                let needed = level > 0 || index > 0
                let dx = block.backward(cache.encoder[level][index], outputGradient: g, parameters: parameters,
                                        gradient: gradient, needsInputGradient: needed, pool: pool)
                finalFrom(block.weight.offset)
                guard let dx else { return }
                g = dx
            }
            if level > 0 {
                let (argmax, shape) = cache.pools[level - 1]
                g = MaxPool2x2.backward(outputGradient: g, argmax: argmax, inputShape: shape, pool: pool)
            }
        }
    }

    /// Per-sample loss and its gradient with respect to the two logit planes.
    func lossAndGradient(logits: Tensor, targets: Targets) -> (perSample: [Double], gradient: Tensor) {
        let s = logits.shape
        let (canopyLogits, centreLogits) = ChannelConcat.backward(outputGradient: logits, firstChannels: 1, pool: pool)
        let bce = Loss.binaryCrossEntropy(logits: canopyLogits, targets: targets.canopy, pool: pool)
        let dice = Loss.softDice(logits: canopyLogits, targets: targets.canopy, pool: pool)
        let centre = Loss.binaryCrossEntropy(logits: centreLogits, targets: targets.centres,
                                             positiveWeight: settings.centrePositiveWeight, pool: pool)
        var canopyGradient = bce.gradient
        for i in 0..<canopyGradient.storage.count {
            canopyGradient.storage[i] += settings.diceWeight * dice.gradient.storage[i]
        }
        var centreGradient = centre.gradient
        for i in 0..<centreGradient.storage.count { centreGradient.storage[i] *= settings.centreWeight }
        let losses = (0..<s.batch).map {
            bce.perSample[$0] + Double(settings.diceWeight) * dice.perSample[$0] + Double(settings.centreWeight) * centre.perSample[$0]
        }
        return (losses, ChannelConcat.forward(canopyGradient, centreGradient, pool: pool))
    }
}
