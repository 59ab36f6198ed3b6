import Dataset

/// Runs a per-pixel model over an image of any size from overlapping windows.
///
/// Every window is `tileSize` square; its border of `margin` pixels is computed but never used,
/// and the rest is its *core*. Outside the image a window reads the image mirrored at its edges
/// (`x = -1` reads `x = 1`), so the padding is a function of image coordinates only. Window
/// origins are multiples of `alignment` in image coordinates, so a U-Net's poolings see the same
/// grid in every window; `tileSize` and `margin` must be multiples of it.
///
/// Two ways to stitch (`Mode`):
/// - `.blend` (default): cores overlap by half, starting at multiples of half a core from minus
///   half a core, so every pixel lies in the cores of two windows per axis; each window's value is
///   weighted by an integer tent over its core (1 at the core's edge, highest at its centre) and
///   the weighted sum is divided by the weights' sum. The weights fall to nothing at every core
///   edge, so the stitched map is continuous: no seams. Four window passes per core area.
/// - `.crop`: cores tile the image without overlap and each pixel comes from the one window whose
///   core holds it. One pass per core area, but where neighbouring windows disagree the map steps.
///
/// What this guarantees: a model whose output at a pixel depends only on the input within
/// `margin` pixels of it gets bitwise the same stitched result for every tile size, in both modes
/// (blending sums integer weights times equal values in Double, which is exact). CanopyNet is not
/// such a model: GroupNorm normalises with statistics over the whole window, so each window's
/// output depends on all of it. Its stitched map then changes with the tile size, and in `.crop`
/// mode shows steps at core edges; docs/model.md measures both.
public struct TiledPrediction: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Window side in pixels; CanopyNet's training tiles are 128.
        public var tileSize = 128
        /// Pixels of each window's border that are computed but not kept.
        public var margin = 32
        /// Windows per model call.
        public var batch = 4
        public var mode = Mode.blend

        public enum Mode: String, Sendable, CaseIterable { case blend, crop }

        public init(tileSize: Int = 128, margin: Int = 32, batch: Int = 4, mode: Mode = .blend) {
            (self.tileSize, self.margin, self.batch, self.mode) = (tileSize, margin, batch, mode)
        }

        /// Checks the sizes against a model that needs sides divisible by `alignment`.
        public func validate(alignment: Int) throws(ModelError) {
            guard tileSize > 0, tileSize % alignment == 0 else {
                throw ModelError(code: "predict.tile-size", "tile size \(tileSize) must be a positive multiple of \(alignment) for this model")
            }
            guard margin >= 0, margin % alignment == 0 else {
                throw ModelError(code: "predict.margin", "margin \(margin) must be a non-negative multiple of \(alignment) for this model")
            }
            guard 2 * margin < tileSize else {
                throw ModelError(code: "predict.margin", "margin \(margin) leaves no core in a \(tileSize)-pixel tile (need 2 x margin < tile size)")
            }
            guard batch >= 1 else { throw ModelError(code: "predict.batch", "batch \(batch) must be at least 1") }
            if mode == .blend {
                guard core % (2 * alignment) == 0 else {
                    throw ModelError(code: "predict.tile-size",
                                     "blending needs half the core (tile size \(tileSize) - 2 x margin \(margin) = \(core)) to be a multiple of \(alignment)")
                }
            }
        }

        /// Core side: the output pixels one window contributes.
        public var core: Int { tileSize - 2 * margin }

        /// Distance between neighbouring windows.
        public var stride: Int { mode == .blend ? core / 2 : core }

        /// Where the first core starts, in image coordinates.
        var firstCore: Int { mode == .blend ? -core / 2 : 0 }
    }

    /// An image in band-major planes (`pixels[band * height * width + y * width + x]`).
    public struct Image: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var bands: Int
        public var pixels: [UInt8]

        public init(width: Int, height: Int, bands: Int, pixels: [UInt8]) {
            precondition(width > 0 && height > 0 && bands > 0 && pixels.count == width * height * bands,
                         "image planes do not match \(width)x\(height)x\(bands)")
            (self.width, self.height, self.bands, self.pixels) = (width, height, bands, pixels)
        }

        /// From an interleaved PNG (RGB or grey).
        public init(png: PNGImage) {
            let plane = png.width * png.height
            var planes = [UInt8](repeating: 0, count: plane * png.channels)
            for p in 0..<plane {
                for band in 0..<png.channels { planes[band * plane + p] = png.bytes[p * png.channels + band] }
            }
            self.init(width: png.width, height: png.height, bands: png.channels, pixels: planes)
        }
    }

    public var settings: Settings

    public init(settings: Settings) { self.settings = settings }

    /// The mirrored coordinate of `i` in `0..<n` (`-1 -> 1`, `n -> n - 2`), for any `i`.
    static func mirror(_ i: Int, _ n: Int) -> Int {
        guard n > 1 else { return 0 }
        let period = 2 * (n - 1)
        var m = i % period
        if m < 0 { m += period }
        return m < n ? m : period - m
    }

    /// The window whose core starts at image `(x0 + margin, y0 + margin)`, as a tile without targets.
    func window(_ image: Image, x0: Int, y0: Int) -> Tile {
        let side = settings.tileSize, plane = side * side, imagePlane = image.width * image.height
        var pixels = [UInt8](repeating: 0, count: plane * image.bands)
        let columns = (0..<side).map { TiledPrediction.mirror(x0 + $0, image.width) }
        for y in 0..<side {
            let row = TiledPrediction.mirror(y0 + y, image.height) * image.width
            for band in 0..<image.bands {
                let source = band * imagePlane + row, target = band * plane + y * side
                for x in 0..<side { pixels[target + x] = image.pixels[source + columns[x]] }
            }
        }
        return Tile(id: "window-\(x0)-\(y0)", width: side, height: side, bands: image.bands, groundSampleDistance: 1,
                    pixels: pixels, canopy: [UInt8](repeating: 0, count: plane), instances: [UInt16](repeating: 0, count: plane),
                    trees: [])
    }

    /// Core origins along one axis of `length` pixels.
    func coreOrigins(_ length: Int) -> [Int] { Array(stride(from: settings.firstCore, to: length, by: settings.stride)) }

    /// The tent weight of core pixel `j` (0 ..< core): 1 at either edge, core / 2 in the middle.
    /// Two tents half a core apart add up to `core / 2 + 1` everywhere.
    @inline(__always) func tent(_ j: Int) -> Double { Double(min(j + 1, settings.core - j)) }

    /// Stitches `channels` output planes over the whole image.
    ///
    /// - Parameter predict: the model over a batch of windows; returns, per window, `channels`
    ///   planes of `tileSize * tileSize` values each, concatenated.
    /// - Returns: `channels` planes of `image.width * image.height` values, concatenated.
    public func run(_ image: Image, channels: Int, predict: ([Tile]) -> [[Float]]) -> [Float] {
        let core = settings.core, margin = settings.margin, side = settings.tileSize
        let width = image.width, height = image.height, plane = width * height
        var origins: [(x: Int, y: Int)] = []
        for cy in coreOrigins(height) { for cx in coreOrigins(width) { origins.append((cx, cy)) } }
        let blend = settings.mode == .blend
        var output = [Float](repeating: 0, count: blend ? 0 : plane * channels)
        var sums = [Double](repeating: 0, count: blend ? plane * channels : 0)
        var weights = [Double](repeating: 0, count: blend ? plane : 0)
        for start in stride(from: 0, to: origins.count, by: settings.batch) {
            let part = origins[start..<min(origins.count, start + settings.batch)]
            let results = predict(part.map { window(image, x0: $0.x - margin, y0: $0.y - margin) })
            precondition(results.count == part.count, "the model returned \(results.count) results for \(part.count) windows")
            for (origin, result) in zip(part, results) {
                precondition(result.count == channels * side * side, "a window's result has \(result.count) values, expected \(channels * side * side)")
                // The part of this core inside the image.
                let y0 = max(0, origin.y), y1 = min(height, origin.y + core)
                let x0 = max(0, origin.x), x1 = min(width, origin.x + core)
                guard y0 < y1, x0 < x1 else { continue }
                for y in y0..<y1 {
                    let row = y - origin.y, wy = tent(row)
                    for x in x0..<x1 {
                        let column = x - origin.x, source = (margin + row) * side + margin + column, target = y * width + x
                        if blend {
                            let w = wy * tent(column)
                            weights[target] += w
                            for channel in 0..<channels { sums[channel * plane + target] += w * Double(result[channel * side * side + source]) }
                        } else {
                            for channel in 0..<channels { output[channel * plane + target] = result[channel * side * side + source] }
                        }
                    }
                }
            }
        }
        guard blend else { return output }
        return (0..<(plane * channels)).map { Float(sums[$0] / weights[$0 % plane]) }
    }

    /// Windows a `width x height` image takes: the cost is this many model passes of `tileSize`.
    public func windowCount(width: Int, height: Int) -> Int { coreOrigins(width).count * coreOrigins(height).count }
}
