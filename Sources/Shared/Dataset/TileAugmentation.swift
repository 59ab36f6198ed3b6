import Core

/// Random transforms of a training tile — the symmetries of the square and a photometric change —
/// applied to its image and, for the geometric ones, to its canopy mask, instance ids and tree
/// centres alike.
///
/// The transform of a tile is a pure function of (run seed, the sample's position in the training
/// set, its data epoch): never of the worker, the thread or the micro-batch that computes it. So
/// an exact-mode run stays bitwise the same for any number of workers and any pattern of failures
/// and re-deals, and a sample seen in two data epochs is seen in two transforms.
///
/// Every draw is taken in a fixed order whatever is switched on, so turning photometric changes on
/// does not change which flips and turns a sample gets.
public struct TileAugmentation: Sendable, Equatable {
    /// Flip horizontally and vertically, each with chance 1/2.
    public var flip = false
    /// Turn clockwise by 0, 1, 2 or 3 quarter turns, equally likely; a tile that is not square
    /// turns by 0 or 2 only, so that its shape (and its micro-batch's) stays.
    public var rotate90 = false
    /// Largest shift of every band, as a fraction of full scale (255 grey levels).
    public var brightness: Float = 0
    /// Largest change of contrast: each band is stretched about its tile mean by a factor in
    /// [1 - contrast, 1 + contrast].
    public var contrast: Float = 0
    /// Largest change of each band's own gain: a factor in [1 - bandGain, 1 + bandGain].
    public var bandGain: Float = 0

    public init(flip: Bool = false, rotate90: Bool = false, brightness: Float = 0, contrast: Float = 0, bandGain: Float = 0) {
        self.flip = flip
        self.rotate90 = rotate90
        self.brightness = brightness
        self.contrast = contrast
        self.bandGain = bandGain
    }

    /// Nothing is switched on: `apply` returns its tile unchanged.
    public var isIdentity: Bool { !flip && !rotate90 && brightness == 0 && contrast == 0 && bandGain == 0 }

    /// The most bands a tile can have (the sample format's limit): one gain is drawn per possible
    /// band so the draws do not depend on the band count.
    static let maximumBands = 8

    /// What one visit of one sample gets.
    public struct Draw: Sendable, Equatable {
        public var flipX = false
        public var flipY = false
        /// Clockwise quarter turns, applied after the flips.
        public var quarterTurns = 0
        /// Added to every band, in grey levels.
        public var shift: Float = 0
        public var contrast: Float = 1
        public var gains = [Float](repeating: 1, count: TileAugmentation.maximumBands)

        public var isGeometric: Bool { flipX || flipY || quarterTurns != 0 }
        public var isPhotometric: Bool { shift != 0 || contrast != 1 || gains.contains { $0 != 1 } }
    }

    /// Salt of the augmentation's random streams, so that they never coincide with the data-order
    /// permutations or the initialisation drawn from the same run seed.
    static let salt: UInt64 = 0x6175_676D_656E_7421

    /// The draw for sample `sample` in data epoch `dataEpoch` of a run seeded `seed`.
    public func draw(seed: UInt64, sample: Int, dataEpoch: Int, square: Bool) -> Draw {
        var perSample = SplitMix64(seed: seed ^ Self.salt, stream: UInt64(sample))
        var random = SplitMix64(seed: perSample.next(), stream: UInt64(dataEpoch))
        let flipX = random.next() >> 63 == 1, flipY = random.next() >> 63 == 1
        var turns = random.nextInt(below: 4)
        // Symmetric in [-1, 1): 2u - 1 for u uniform in [0, 1).
        func symmetric() -> Float { 2 * random.nextUnitFloat() - 1 }
        let shift = symmetric(), stretch = symmetric()
        let gains = (0..<Self.maximumBands).map { _ in symmetric() }
        if !square { turns &= 2 }
        var result = Draw()
        if flip { result.flipX = flipX; result.flipY = flipY }
        if rotate90 { result.quarterTurns = turns }
        result.shift = brightness * shift * 255
        result.contrast = 1 + contrast * stretch
        result.gains = gains.map { 1 + bandGain * $0 }
        return result
    }

    /// `tile` as sample `sample` of data epoch `dataEpoch` sees it.
    public func apply(to tile: Tile, seed: UInt64, sample: Int, dataEpoch: Int) -> Tile {
        guard !isIdentity else { return tile }
        return Self.transform(tile, draw(seed: seed, sample: sample, dataEpoch: dataEpoch, square: tile.width == tile.height))
    }

    /// Applies a draw: geometry to every plane and to the tree centres, then the photometric change
    /// to the image planes only.
    public static func transform(_ tile: Tile, _ draw: Draw) -> Tile {
        var result = tile
        if draw.isGeometric { result = transformGeometry(result, draw) }
        if draw.isPhotometric { result.pixels = adjustedPixels(result, draw) }
        return result
    }

    /// Where pixel (x, y) of a `width` x `height` tile goes, and the size after the transform:
    /// flips first, then clockwise quarter turns, each turn taking (x, y) to (h - 1 - y, x).
    static func destination(x: Int, y: Int, width: Int, height: Int, _ draw: Draw) -> (x: Int, y: Int) {
        var x = draw.flipX ? width - 1 - x : x, y = draw.flipY ? height - 1 - y : y
        var w = width, h = height
        for _ in 0..<draw.quarterTurns {
            (x, y) = (h - 1 - y, x)
            (w, h) = (h, w)
        }
        return (x, y)
    }

    /// The same map for a continuous point (a crown centre; pixel x covers [x, x + 1)).
    static func destination(point x: Float, _ y: Float, width: Int, height: Int, _ draw: Draw) -> (x: Float, y: Float) {
        var x = draw.flipX ? Float(width) - x : x, y = draw.flipY ? Float(height) - y : y
        var w = width, h = height
        for _ in 0..<draw.quarterTurns {
            (x, y) = (Float(h) - y, x)
            (w, h) = (h, w)
        }
        return (x, y)
    }

    private static func transformGeometry(_ tile: Tile, _ draw: Draw) -> Tile {
        let width = tile.width, height = tile.height, count = width * height
        let turned = draw.quarterTurns % 2 == 1
        let newWidth = turned ? height : width, newHeight = turned ? width : height
        // One index map for every plane: where each source pixel lands.
        var target = [Int](repeating: 0, count: count)
        for y in 0..<height {
            for x in 0..<width {
                let d = destination(x: x, y: y, width: width, height: height, draw)
                target[y * width + x] = d.y * newWidth + d.x
            }
        }
        var pixels = [UInt8](repeating: 0, count: tile.pixels.count)
        var canopy = [UInt8](repeating: 0, count: count)
        var instances = [UInt16](repeating: 0, count: count)
        for band in 0..<tile.bands {
            let offset = band * count
            for source in 0..<count { pixels[offset + target[source]] = tile.pixels[offset + source] }
        }
        for source in 0..<count {
            canopy[target[source]] = tile.canopy[source]
            instances[target[source]] = tile.instances[source]
        }
        let trees = tile.trees.map { tree in
            var moved = tree
            (moved.centerX, moved.centerY) = destination(point: tree.centerX, tree.centerY, width: width, height: height, draw)
            return moved
        }
        return Tile(id: tile.id, width: newWidth, height: newHeight, bands: tile.bands, groundSampleDistance: tile.groundSampleDistance,
                    pixels: pixels, canopy: canopy, instances: instances, trees: trees)
    }

    /// Each band through a 256-entry table: `((v - mean) * contrast + mean + shift) * gain`,
    /// rounded and clamped to 0...255. The band mean is an exact integer sum, so the table, and
    /// the tile, are the same bits on every machine running the same binary.
    private static func adjustedPixels(_ tile: Tile, _ draw: Draw) -> [UInt8] {
        let count = tile.pixelCount
        var pixels = tile.pixels
        for band in 0..<tile.bands {
            let offset = band * count
            var sum = 0
            for i in 0..<count { sum += Int(pixels[offset + i]) }
            let mean = Float(sum) / Float(max(count, 1))
            let gain = draw.gains[band]
            var table = [UInt8](repeating: 0, count: 256)
            for v in 0..<256 {
                let value = ((Float(v) - mean) * draw.contrast + mean + draw.shift) * gain
                table[v] = UInt8(min(max(value.rounded(), 0), 255))
            }
            for i in 0..<count { pixels[offset + i] = table[Int(pixels[offset + i])] }
        }
        return pixels
    }
}
