/// One training sample in memory: an aerial tile with its targets.
///
/// Planes are stored band-major (`pixels[band * height * width + y * width + x]`) so that a band is
/// one contiguous plane, which is what convolution kernels read.
public struct Tile: Sendable, Equatable {
    /// The sample's id in its catalog or directory (`YELL_0003`, a synthetic id, ...).
    public var id: String
    public var width: Int
    public var height: Int
    /// 3 (RGB) or 4 (RGB + near-infrared).
    public var bands: Int
    /// Ground sample distance: metres on the ground per pixel side.
    public var groundSampleDistance: Float
    /// `bands * height * width` bytes, band-major.
    public var pixels: [UInt8]
    /// `height * width`, 1 where canopy, 0 elsewhere.
    public var canopy: [UInt8]
    /// `height * width`, 0 for background, 1...K for the tree a pixel belongs to.
    public var instances: [UInt16]
    /// The trees whose crown shows in the tile, one per instance id.
    public var trees: [TreeInstance]

    public init(
        id: String, width: Int, height: Int, bands: Int, groundSampleDistance: Float,
        pixels: [UInt8], canopy: [UInt8], instances: [UInt16], trees: [TreeInstance]
    ) {
        precondition(pixels.count == bands * height * width, "pixel planes do not match the size")
        precondition(canopy.count == height * width && instances.count == height * width, "targets do not match the size")
        self.id = id
        self.width = width
        self.height = height
        self.bands = bands
        self.groundSampleDistance = groundSampleDistance
        self.pixels = pixels
        self.canopy = canopy
        self.instances = instances
        self.trees = trees
    }

    public var pixelCount: Int { width * height }
}

/// One tree of a tile.
public struct TreeInstance: Sendable, Equatable {
    /// The tree's id within the tile, as in `Tile.instances`.
    public var id: UInt16
    /// Crown centre in tile pixels (may lie outside the tile for clipped crowns).
    public var centerX: Float
    public var centerY: Float
    /// Crown radius in pixels (half the mean of the crown's width and height).
    public var radius: Float
    /// Visible canopy pixels of this tree in the tile.
    public var visiblePixels: Int

    public init(id: UInt16, centerX: Float, centerY: Float, radius: Float, visiblePixels: Int) {
        self.id = id
        self.centerX = centerX
        self.centerY = centerY
        self.radius = radius
        self.visiblePixels = visiblePixels
    }
}
