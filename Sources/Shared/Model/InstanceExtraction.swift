/// Turns CanopyNet's two outputs into individual trees: peaks of the centre heatmap seed trees,
/// and every canopy pixel goes to the nearest seed in its connected canopy component.
///
/// Pure and deterministic: ties are broken by raster order, so the same maps give the same trees.
public struct InstanceExtraction: Sendable, Hashable, Codable {
    /// A heatmap pixel is a peak if it is at least this high...
    public var peakThreshold: Float = 0.5
    /// ...and the highest within this many pixels (a square window; non-maximum suppression).
    /// About half the crown radius of the shipped sample's trees; chosen on its training tiles,
    /// where it doubled precision against 4 pixels for a few points of recall (docs/model.md).
    public var suppressionRadius = 10
    /// Canopy probability from which a pixel counts as canopy.
    public var canopyThreshold: Float = 0.5
    /// A canopy component with no seed becomes one tree if it has at least this many pixels.
    public var minimumUnseededArea = 30

    public init() {}

    public init(peakThreshold: Float, suppressionRadius: Int) {
        self.peakThreshold = peakThreshold
        self.suppressionRadius = suppressionRadius
    }

    /// One extracted tree.
    public struct Tree: Sendable, Equatable, Codable {
        /// Centre in tile pixels (the seed pixel's centre, or the component's centroid if unseeded).
        public var centreX: Float
        public var centreY: Float
        /// Heatmap value at the seed (0 for an unseeded component).
        public var score: Float
        /// Row-major pixel indices (`y * width + x`) of the crown, ascending.
        public var pixels: [Int]
        public var pixelArea: Int { pixels.count }
        /// Crown area on the ground in square metres.
        public var areaSquareMetres: Double
    }

    /// A local maximum of the heatmap.
    public struct Peak: Sendable, Equatable {
        public var x: Int
        public var y: Int
        public var score: Float
    }

    /// Pixels at or above `peakThreshold` that no other pixel within `suppressionRadius` beats;
    /// among equal values the first in raster order wins. Returned in raster order.
    public func peaks(_ heat: [Float], width: Int, height: Int) -> [Peak] {
        precondition(heat.count == width * height, "heatmap has \(heat.count) values for a \(width)x\(height) tile")
        var result: [Peak] = []
        let r = suppressionRadius
        for y in 0..<height {
            for x in 0..<width {
                let value = heat[y * width + x]
                guard value >= peakThreshold else { continue }
                var isPeak = true
                search: for ny in max(0, y - r)...min(height - 1, y + r) {
                    for nx in max(0, x - r)...min(width - 1, x + r) where nx != x || ny != y {
                        let other = heat[ny * width + nx]
                        let earlier = ny < y || (ny == y && nx < x)
                        if other > value || (earlier && other == value) { isPeak = false; break search }
                    }
                }
                if isPeak { result.append(Peak(x: x, y: y, score: value)) }
            }
        }
        return result
    }

    /// Trees from a canopy probability map and a centre heatmap, both `width x height`.
    ///
    /// Seeds are the peaks that lie on canopy; each canopy pixel joins the nearest seed of its own
    /// 4-connected component (squared distance, ties to the earlier seed). Seeded trees come first
    /// in seed order, then unseeded components in raster order of their first pixel.
    public func trees(canopy: [Float], centres: [Float], width: Int, height: Int, groundSampleDistance: Float) -> [Tree] {
        precondition(canopy.count == width * height, "canopy map has \(canopy.count) values for a \(width)x\(height) tile")
        let components = InstanceExtraction.components(canopy.map { $0 >= canopyThreshold }, width: width, height: height)
        let seeds = peaks(centres, width: width, height: height).filter { components.labels[$0.y * width + $0.x] >= 0 }
        var seedsOfComponent = [[Int]](repeating: [], count: components.count)
        for (index, seed) in seeds.enumerated() { seedsOfComponent[components.labels[seed.y * width + seed.x]].append(index) }
        var seededPixels = [[Int]](repeating: [], count: seeds.count)
        var unseeded = [[Int]](repeating: [], count: components.count)
        for p in 0..<(width * height) {
            let label = components.labels[p]
            guard label >= 0 else { continue }
            let candidates = seedsOfComponent[label]
            if candidates.isEmpty { unseeded[label].append(p); continue }
            let x = p % width, y = p / width
            var best = candidates[0], bestDistance = Int.max
            for index in candidates {
                let dx = seeds[index].x - x, dy = seeds[index].y - y
                let distance = dx * dx + dy * dy
                if distance < bestDistance { best = index; bestDistance = distance }
            }
            seededPixels[best].append(p)
        }
        let pixelArea = Double(groundSampleDistance) * Double(groundSampleDistance)
        var trees = seeds.enumerated().map { index, seed in
            Tree(centreX: Float(seed.x) + 0.5, centreY: Float(seed.y) + 0.5, score: seed.score,
                 pixels: seededPixels[index], areaSquareMetres: Double(seededPixels[index].count) * pixelArea)
        }
        for pixels in unseeded where pixels.count >= minimumUnseededArea {
            let cx = pixels.reduce(0.0) { $0 + Double($1 % width) } / Double(pixels.count) + 0.5
            let cy = pixels.reduce(0.0) { $0 + Double($1 / width) } / Double(pixels.count) + 0.5
            trees.append(Tree(centreX: Float(cx), centreY: Float(cy), score: 0, pixels: pixels,
                              areaSquareMetres: Double(pixels.count) * pixelArea))
        }
        return trees
    }

    /// 4-connected components of a mask: a label per pixel (-1 off the mask), numbered in raster
    /// order of each component's first pixel.
    static func components(_ mask: [Bool], width: Int, height: Int) -> (labels: [Int], count: Int) {
        var labels = [Int](repeating: -1, count: mask.count)
        var count = 0
        var stack: [Int] = []
        for start in 0..<mask.count where mask[start] && labels[start] < 0 {
            labels[start] = count
            stack.append(start)
            while let p = stack.popLast() {
                let x = p % width, y = p / width
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
                where nx >= 0 && nx < width && ny >= 0 && ny < height {
                    let q = ny * width + nx
                    if mask[q] && labels[q] < 0 { labels[q] = count; stack.append(q) }
                }
            }
            count += 1
        }
        return (labels, count)
    }
}
