import Core
import Dataset

/// Grove's first model: a per-pixel canopy classifier. Each pixel's input is the window of
/// `(2 * window + 1)^2` pixels around it in every band; one hidden ReLU layer; one logit.
/// The loss of a tile is the mean binary cross-entropy over its sampled pixels.
///
/// Small enough to train in seconds on two cores, real enough that its loss falls on the shipped
/// aerial tiles. Parameter order: `hidden.weight [hidden, inputs]`, `hidden.bias [hidden]`,
/// `out.weight [1, hidden]`, `out.bias [1]`.
public struct PixelMLP: TrainableModel {
    public let bands: Int
    public let hidden: Int
    public let window: Int
    /// Pixels sampled per tile (0 = all). The sample is a fixed stride through the tile whose offset
    /// comes from the tile's id, so it does not depend on who computes it.
    public let pixelsPerTile: Int
    public let layout: ParameterLayout
    public var inputBands: Int { bands }
    public var inputs: Int { bands * (2 * window + 1) * (2 * window + 1) }

    public init(bands: Int = 3, hidden: Int = 32, window: Int = 1, pixelsPerTile: Int = 1024) {
        precondition(bands > 0 && hidden > 0 && window >= 0 && pixelsPerTile >= 0, "invalid PixelMLP settings")
        self.bands = bands
        self.hidden = hidden
        self.window = window
        self.pixelsPerTile = pixelsPerTile
        let inputs = bands * (2 * window + 1) * (2 * window + 1)
        var layout = ParameterLayout()
        layout.add("hidden.weight", [hidden, inputs])
        layout.add("hidden.bias", [hidden])
        layout.add("out.weight", [1, hidden])
        layout.add("out.bias", [1])
        self.layout = layout
    }

    public var schemaName: String { "pixel-mlp(bands: \(bands), hidden: \(hidden), window: \(window), pixels: \(pixelsPerTile))" }

    public func initialParameters(seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: seed, stream: 0x504D_4C50)
        var parameters = [Float](repeating: 0, count: layout.count)
        let w1 = layout["hidden.weight"]!, w2 = layout["out.weight"]!
        let scale1 = (2.0 / Double(inputs)).squareRoot(), scale2 = (1.0 / Double(hidden)).squareRoot()
        for i in 0..<w1.count { parameters[w1.offset + i] = Float(generator.nextGaussian() * scale1) }
        for i in 0..<w2.count { parameters[w2.offset + i] = Float(generator.nextGaussian() * scale2) }
        return parameters
    }

    /// The pixel indices of `tile` that the loss covers.
    public func sampledPixels(of tile: Tile) -> StrideThrough<Int> {
        let count = tile.pixelCount
        guard pixelsPerTile > 0, pixelsPerTile < count else { return stride(from: 0, through: count - 1, by: 1) }
        let step = count / pixelsPerTile
        let offset = Int(SHA256.hash(Array(tile.id.utf8))[0]) % step
        return stride(from: offset, through: offset + (pixelsPerTile - 1) * step, by: step)
    }

    public func accumulateGradient(
        parameters: UnsafeBufferPointer<Float>, samples: [Tile], into gradient: UnsafeMutableBufferPointer<Float>,
        forwardEnded: () -> Void
    ) -> BatchLoss {
        precondition(parameters.count == layout.count && gradient.count == layout.count, "buffer does not match the layout")
        var losses: [Float] = []
        var x = [Float](repeating: 0, count: inputs)
        var h = [Float](repeating: 0, count: hidden)
        // Forward and backward interleave per pixel: the boundary is after the first pixel.
        var boundaryPending = true
        for tile in samples {
            precondition(tile.bands == bands, "tile \(tile.id) has \(tile.bands) bands, the model expects \(bands)")
            let pixels = sampledPixels(of: tile)
            let weight = 1 / Float(pixels.underestimatedCount)
            var loss: Float = 0
            for p in pixels {
                features(of: tile, pixel: p, into: &x)
                let z = forward(parameters, x, &h)
                if boundaryPending { boundaryPending = false; forwardEnded() }
                let y: Float = tile.canopy[p] != 0 ? 1 : 0
                // Stable BCE with logits: max(z, 0) - z y + log(1 + e^-|z|).
                loss += max(z, 0) - z * y + log1p(exp(-abs(z)))
                backward(parameters, x, h, dz: (sigmoid(z) - y) * weight, into: gradient)
            }
            losses.append(loss * weight)
        }
        return BatchLoss(perSample: losses)
    }

    /// Canopy probability of every pixel of `tile`.
    public func canopyProbabilities(parameters: UnsafeBufferPointer<Float>, tile: Tile) -> [Float] {
        var x = [Float](repeating: 0, count: inputs)
        var h = [Float](repeating: 0, count: hidden)
        return (0..<tile.pixelCount).map { p in
            features(of: tile, pixel: p, into: &x)
            return sigmoid(forward(parameters, x, &h))
        }
    }

    // MARK: Kernels

    private func features(of tile: Tile, pixel p: Int, into x: inout [Float]) {
        let px = p % tile.width, py = p / tile.width
        var k = 0
        for band in 0..<bands {
            let plane = band * tile.pixelCount
            for dy in -window...window {
                let yy = min(max(py + dy, 0), tile.height - 1)
                for dx in -window...window {
                    let xx = min(max(px + dx, 0), tile.width - 1)
                    x[k] = (Float(tile.pixels[plane + yy * tile.width + xx]) - 128) * (1 / 64)
                    k += 1
                }
            }
        }
    }

    private func forward(_ w: UnsafeBufferPointer<Float>, _ x: [Float], _ h: inout [Float]) -> Float {
        let n = inputs, b1 = n * hidden, w2 = b1 + hidden, b2 = w2 + hidden
        var z = w[b2]
        x.withUnsafeBufferPointer { x in
            for j in 0..<hidden {
                var a = w[b1 + j]
                let row = j * n
                for i in 0..<n { a += w[row + i] * x[i] }
                h[j] = max(a, 0)
                z += w[w2 + j] * h[j]
            }
        }
        return z
    }

    private func backward(_ w: UnsafeBufferPointer<Float>, _ x: [Float], _ h: [Float], dz: Float,
                          into g: UnsafeMutableBufferPointer<Float>) {
        let n = inputs, b1 = n * hidden, w2 = b1 + hidden, b2 = w2 + hidden
        g[b2] += dz
        x.withUnsafeBufferPointer { x in
            for j in 0..<hidden where h[j] > 0 {
                g[w2 + j] += dz * h[j]
                let dh = dz * w[w2 + j]
                g[b1 + j] += dh
                let row = j * n
                for i in 0..<n { g[row + i] += dh * x[i] }
            }
        }
    }
}

@inline(__always) private func sigmoid(_ z: Float) -> Float { z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)) }

#if canImport(Glibc)
import Glibc
#endif
