/// Everything a synthetic tile shows, decided before any pixel is painted: the renderer turns a
/// scene into pixels and targets without drawing another random number except from the
/// scene's own noise seed.
struct OrchardScene: Sendable {
    struct Tree: Sendable {
        /// Crown centre in tile pixels (pixel x spans [x, x + 1)).
        var center: SIMD2<Float>
        /// Crown semi-axes in pixels.
        var radius: SIMD2<Float>
        /// Crown height in pixels, for occlusion and shadow length.
        var height: Float
        var colour: SIMD3<Float>
        /// Near-infrared reflectance of the leaves, 0...255; healthy canopy is bright.
        var nir: Float
        /// Dead trees show bare grey branches; they are not canopy and have no instance id.
        var dead: Bool
        /// Shrubs are green and cast shadows like crowns but are not trees: not canopy, no
        /// instance id. What a model must learn not to call a tree.
        var shrub = false

        /// Whether the pixels this tree owns are canopy with an instance id.
        var isCanopy: Bool { !dead && !shrub }
    }

    struct Netting: Sendable {
        var spacing: Int
        var colour: Float
        var opacity: Float
    }

    var width: Int
    var height: Int
    var bands: Int
    var groundSampleDistance: Float
    var trees: [Tree]
    /// Small green blobs of weeds between trees: green, but not canopy. Centre and radius.
    var weeds: [SIMD3<Float>]
    /// Unit vector along which shadows fall, and shadow length per unit of tree height.
    var sun: SIMD2<Float>
    var shadowLength: Float
    var soil: SIMD3<Float>
    var grass: SIMD3<Float>
    /// Share of the alleys covered by grass, 0...1.
    var grassCover: Float
    /// Row direction (unit vector) and spacing in pixels when the planting has rows; the strip
    /// under a row is kept bare, as growers do with herbicide.
    var rowDirection: SIMD2<Float>
    var rowOrigin: SIMD2<Float>
    var rowSpacing: Float?
    var stripHalfWidth: Float
    var netting: Netting?
    /// Seeds the renderer's texture noise.
    var noiseSeed: UInt64
}
