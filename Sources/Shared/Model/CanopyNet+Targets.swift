import Dataset
import Foundation
import Tensor

extension CanopyNet {
    /// The two per-pixel targets of a batch, sample-major, `height * width` values per sample.
    struct Targets {
        /// 1 where canopy, 0 elsewhere.
        var canopy: [Float]
        /// The centre heatmap of each sample (see `centreHeatmap`).
        var centres: [Float]
    }

    /// Stacks tiles into an NCHW batch of `pixel / 255 - bandMean`.
    func makeInput(_ tiles: [Tile]) -> Tensor {
        let first = tiles[0]
        var input = Tensor(zeros: TensorShape(tiles.count, settings.inputBands, first.height, first.width))
        for (n, tile) in tiles.enumerated() {
            precondition(tile.bands == settings.inputBands,
                         "tile \(tile.id) has \(tile.bands) bands but CanopyNet was built for \(settings.inputBands)")
            precondition(tile.width == first.width && tile.height == first.height,
                         "tile \(tile.id) is \(tile.width)x\(tile.height) but its batch is \(first.width)x\(first.height)")
            let plane = tile.pixelCount
            for band in 0..<tile.bands {
                let mean = settings.bandMeans[band], base = (n * tile.bands + band) * plane
                for p in 0..<plane {
                    input.storage[base + p] = Float(tile.pixels[band * plane + p]) * (1 / 255) - mean
                }
            }
        }
        return input
    }

    func makeTargets(_ tiles: [Tile]) -> Targets {
        var canopy: [Float] = [], centres: [Float] = []
        for tile in tiles {
            canopy.append(contentsOf: tile.canopy.map { Float($0) })
            centres.append(contentsOf: centreHeatmap(tile))
        }
        return Targets(canopy: canopy, centres: centres)
    }

    /// The centre target of a tile: at each pixel, the largest `exp(-d^2 / (2 sigma^2))` over the
    /// tile's trees, with `d` the distance to the tree's crown centre and
    /// `sigma = max(minimumCentreSigma, centreSigmaPerRadius * radius)`. Trees centred outside the
    /// tile contribute the part of their peak that falls inside it.
    public func centreHeatmap(_ tile: Tile) -> [Float] {
        var heat = [Float](repeating: 0, count: tile.pixelCount)
        for tree in tile.trees {
            let sigma = max(settings.minimumCentreSigma, settings.centreSigmaPerRadius * tree.radius)
            let reach = Int((3 * sigma).rounded(.up))
            // Pixel (x, y) covers [x, x+1); its centre is at x + 0.5.
            let cx = tree.centerX - 0.5, cy = tree.centerY - 0.5
            let x0 = max(0, Int(cx.rounded(.down)) - reach), x1 = min(tile.width - 1, Int(cx.rounded(.up)) + reach)
            let y0 = max(0, Int(cy.rounded(.down)) - reach), y1 = min(tile.height - 1, Int(cy.rounded(.up)) + reach)
            guard x0 <= x1, y0 <= y1 else { continue }
            let scale = -1 / (2 * sigma * sigma)
            for y in y0...y1 {
                for x in x0...x1 {
                    let dx = Float(x) - cx, dy = Float(y) - cy
                    let value = expf((dx * dx + dy * dy) * scale)
                    heat[y * tile.width + x] = max(heat[y * tile.width + x], value)
                }
            }
        }
        return heat
    }
}
