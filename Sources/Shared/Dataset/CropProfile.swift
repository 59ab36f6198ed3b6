/// What a kind of planting looks like from above: crown sizes, how trees are laid out, the
/// imaging resolution it is usually flown at, and its leaf colour. Sizes are in metres; the
/// synthesiser converts them to pixels at the tile's ground sample distance.
struct CropProfile: Sendable {
    enum Layout: Sendable {
        /// Parallel rows: spacing between rows and between trees of a row.
        case rows(between: ClosedRange<Double>, within: ClosedRange<Double>)
        /// A square-ish grid.
        case grid(spacing: ClosedRange<Double>)
        /// Unplanted stands: trees per hectare, placed at random.
        case scatter(perHectare: ClosedRange<Double>)
    }

    var name: String
    var crownDiameter: ClosedRange<Double>
    var layout: Layout
    var groundSampleDistance: ClosedRange<Double>
    /// Mean leaf colour, RGB 0...255.
    var leaf: SIMD3<Float>
    /// Chance that a site of this crop is under netting.
    var nettingChance: Double

    /// From 0.5 m vines to 30 m parkland oaks. Ultra-high-density apple plants trees closer than
    /// their crowns are wide, so crowns merge into hedgerows and instances touch.
    static let all: [CropProfile] = [
        CropProfile(name: "vine", crownDiameter: 0.5...1.2, layout: .rows(between: 2.0...3.0, within: 1.0...1.6),
                    groundSampleDistance: 0.02...0.05, leaf: [96, 142, 62], nettingChance: 0.3),
        CropProfile(name: "blueberry", crownDiameter: 1.0...1.8, layout: .rows(between: 2.6...3.2, within: 0.8...1.3),
                    groundSampleDistance: 0.03...0.07, leaf: [70, 118, 72], nettingChance: 0.5),
        CropProfile(name: "apple-uhd", crownDiameter: 0.9...1.5, layout: .rows(between: 2.8...3.5, within: 0.5...0.9),
                    groundSampleDistance: 0.03...0.07, leaf: [74, 128, 58], nettingChance: 0.6),
        CropProfile(name: "apple", crownDiameter: 2.5...4.0, layout: .rows(between: 4.0...5.5, within: 2.0...3.2),
                    groundSampleDistance: 0.05...0.12, leaf: [68, 120, 55], nettingChance: 0.3),
        CropProfile(name: "citrus", crownDiameter: 3.0...5.5, layout: .grid(spacing: 5.0...7.0),
                    groundSampleDistance: 0.08...0.18, leaf: [52, 98, 48], nettingChance: 0.05),
        CropProfile(name: "olive", crownDiameter: 3.0...6.0, layout: .grid(spacing: 6.0...9.0),
                    groundSampleDistance: 0.1...0.22, leaf: [100, 118, 88], nettingChance: 0),
        CropProfile(name: "walnut", crownDiameter: 7.0...12.0, layout: .grid(spacing: 8.0...12.0),
                    groundSampleDistance: 0.15...0.3, leaf: [64, 112, 50], nettingChance: 0),
        CropProfile(name: "oak", crownDiameter: 10.0...30.0, layout: .scatter(perHectare: 15...60),
                    groundSampleDistance: 0.25...0.5, leaf: [58, 92, 50], nettingChance: 0),
    ]
}
