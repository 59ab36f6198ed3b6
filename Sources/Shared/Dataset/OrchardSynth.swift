import Core
import Foundation

/// Procedural aerial tiles of orchards, vineyards and tree stands with exact targets: canopy
/// mask, instance ids and tree table come from the same geometry that paints the pixels.
///
/// Tiles are grouped in sites of `Settings.tilesPerSite`: a site fixes the crop, row layout,
/// resolution, colours and netting, and each tile of it is a different patch with its own
/// missing and dead trees, weeds and light. Splits are drawn per site, so no site leaks
/// between `train`, `val` and `test`.
///
/// Deterministic: `sample(seed:index:)` is a pure function of its arguments and the settings,
/// so the same seed gives the same bytes on every run and thread count.
public struct OrchardSynth: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Tile size in pixels.
        public var width = 128
        public var height = 128
        /// Share of sites flown with a near-infrared band (4-band tiles).
        public var nirShare = 0.3
        /// Tiles per site.
        public var tilesPerSite = 64
        /// Chance that a planted position is empty (tree removed or never planted), upper bound
        /// per site.
        public var maxMissing = 0.12
        /// Chance that a planted tree is dead, upper bound per site.
        public var maxDead = 0.06
        /// Generate sites without trees instead (soil, grass, shrubs and their shadows: no
        /// canopy), as their own stream of ids (`syn-neg-s<seed>-…`).
        public var negatives = false

        public init() {}

        public func validate() throws(DatasetError) {
            guard (8...4096).contains(width), (8...4096).contains(height) else {
                throw DatasetError(code: "synth.bad-setting", "synth tile size \(width)x\(height) is outside 8...4096 per side")
            }
            for (name, value) in [("nir share", nirShare), ("max missing", maxMissing), ("max dead", maxDead)] where !(0...1).contains(value) {
                throw DatasetError(code: "synth.bad-setting", "synth \(name) \(value) is outside 0...1")
            }
            guard tilesPerSite >= 1 else {
                throw DatasetError(code: "synth.bad-setting", "synth tiles per site \(tilesPerSite) must be at least 1")
            }
        }
    }

    /// A generated tile with the labels it is catalogued under.
    public struct Sample: Sendable {
        public var tile: Tile
        public var labels: SampleLabels
    }

    public var settings: Settings

    public init(settings: Settings = Settings()) throws(DatasetError) {
        try settings.validate()
        self.settings = settings
    }

    /// The id of sample `index` of `seed`; ids sort in index order.
    public static func sampleID(seed: UInt64, index: Int) -> String {
        let digits = String(index)
        return "syn-s\(seed)-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// The id of sample `index` of `seed` with these settings.
    public func id(seed: UInt64, index: Int) -> String {
        let id = OrchardSynth.sampleID(seed: seed, index: index)
        return settings.negatives ? id.replacingOccurrences(of: "syn-s", with: "syn-neg-s") : id
    }

    /// Sample `index` of the stream `seed`.
    public func sample(seed: UInt64, index: Int) -> Sample {
        if settings.negatives { return negativeSample(seed: seed, index: index) }
        let siteIndex = index / settings.tilesPerSite
        var siteRandom = SplitMix64(seed: seed, stream: 0x5173_0000_0000 &+ UInt64(siteIndex))
        var tileRandom = SplitMix64(seed: seed, stream: 0x7113_0000_0000 &+ UInt64(index))
        let site = SitePlan(settings: settings, random: &siteRandom)
        let scene = site.scene(settings: settings, random: &tileRandom)
        let tile = OrchardRenderer(scene: scene).render(id: OrchardSynth.sampleID(seed: seed, index: index))
        let splitDraw = siteRandom.nextUnitFloat()
        let labels = SampleLabels(
            source: "synthetic", site: "synth-s\(seed)-site\(siteIndex)", crop: site.crop.name,
            split: splitDraw < 0.8 ? "train" : splitDraw < 0.9 ? "val" : "test", netting: site.netting,
            plantingDensity: site.plantingDensity, synthetic: true, labelsComplete: true)
        return Sample(tile: tile, labels: labels)
    }
}

extension OrchardSynth {
    /// Sample `index` of the stream `seed` of sites without trees: no canopy, no instances.
    func negativeSample(seed: UInt64, index: Int) -> Sample {
        let siteIndex = index / settings.tilesPerSite
        // Other streams than the orchards', so the two kinds of site do not correlate.
        var siteRandom = SplitMix64(seed: seed, stream: 0x4E65_6700_0000 &+ UInt64(siteIndex))
        var tileRandom = SplitMix64(seed: seed, stream: 0x4E74_6C00_0000 &+ UInt64(index))
        let site = NegativeSitePlan(settings: settings, random: &siteRandom)
        let tile = OrchardRenderer(scene: site.scene(settings: settings, random: &tileRandom)).render(id: id(seed: seed, index: index))
        let splitDraw = siteRandom.nextUnitFloat()
        let labels = SampleLabels(
            source: "synthetic", site: "synth-neg-s\(seed)-site\(siteIndex)", crop: "none",
            split: splitDraw < 0.8 ? "train" : splitDraw < 0.9 ? "val" : "test", netting: false,
            plantingDensity: nil, synthetic: true, labelsComplete: true)
        return Sample(tile: tile, labels: labels)
    }
}

/// What every tile of one site shares.
struct SitePlan {
    var crop: CropProfile
    var gsd: Float
    var angle: Float
    /// Row spacing and in-row spacing (grid: both the grid spacing) in metres; nil for scatter.
    var spacing: (between: Double, within: Double)?
    var treesPerHectare: Double
    var crownScale: Double
    var leafShift: SIMD3<Float>
    var soil: SIMD3<Float>
    var grass: SIMD3<Float>
    var grassCover: Float
    var netting: Bool
    var nettingSpacing: Int
    var nettingColour: Float
    var nir: Bool
    var missing: Double
    var dead: Double

    var plantingDensity: Double? { spacing == nil ? nil : treesPerHectare }

    init(settings: OrchardSynth.Settings, random r: inout SplitMix64) {
        crop = CropProfile.all[r.nextInt(below: CropProfile.all.count)]
        gsd = Float(r.uniform(crop.groundSampleDistance))
        angle = Float(r.uniform(0...Double.pi))
        switch crop.layout {
        case .rows(let between, let within):
            spacing = (r.uniform(between), r.uniform(within))
        case .grid(let s):
            let side = r.uniform(s)
            spacing = (side, side * r.uniform(0.9...1.1))
        case .scatter:
            spacing = nil
        }
        if let spacing {
            treesPerHectare = 10_000 / (spacing.between * spacing.within)
        } else if case .scatter(let perHectare) = crop.layout {
            treesPerHectare = r.uniform(perHectare)
        } else {
            treesPerHectare = 0
        }
        crownScale = r.uniform(0.85...1.15)
        leafShift = [Float(r.uniform(-14...14)), Float(r.uniform(-16...16)), Float(r.uniform(-10...10))]
        soil = [Float(r.uniform(110...170)), Float(r.uniform(88...130)), Float(r.uniform(62...100))]
        grass = [Float(r.uniform(95...140)), Float(r.uniform(120...160)), Float(r.uniform(60...90))]
        grassCover = Float(r.uniform(0...1))
        netting = r.uniform(0...1) < crop.nettingChance
        nettingSpacing = 3 + r.nextInt(below: 4)
        nettingColour = r.uniform(0...1) < 0.7 ? 235 : 30
        nir = r.uniform(0...1) < settings.nirShare
        missing = r.uniform(0...settings.maxMissing)
        dead = r.uniform(0...settings.maxDead)
    }

    /// One patch of the site: where the tile falls on the planting, and its trees, weeds and light.
    func scene(settings: OrchardSynth.Settings, random r: inout SplitMix64) -> OrchardScene {
        let w = Float(settings.width), h = Float(settings.height)
        let direction = SIMD2<Float>(cos(angle), sin(angle))
        let across = SIMD2<Float>(-direction.y, direction.x)
        let centre = SIMD2<Float>(w / 2, h / 2)
        let maxRadius = Float(crop.crownDiameter.upperBound * crownScale / 2) / gsd
        let reach = (w * w + h * h).squareRoot() / 2 + maxRadius + 2
        var trees: [OrchardScene.Tree] = []
        var rowSpacing: Float?
        var origin = centre

        func plant(at point: SIMD2<Float>, _ r: inout SplitMix64) {
            guard r.uniform(0...1) >= missing else { return }
            let diameter = r.uniform(crop.crownDiameter) * crownScale
            let radius = Float(diameter / 2) / gsd
            let stretch = Float(r.uniform(0.85...1.15))
            let isDead = r.uniform(0...1) < dead
            let vigour = Float(r.uniform(0.8...1.1))
            let colour = (crop.leaf + leafShift) * Float(r.uniform(0.88...1.12))
            trees.append(OrchardScene.Tree(
                center: point, radius: [radius * stretch, radius / stretch], height: radius * Float(r.uniform(0.8...1.5)),
                colour: colour, nir: min(250, 215 * vigour), dead: isDead))
        }

        if let spacing {
            let between = Float(spacing.between) / gsd, within = Float(spacing.within) / gsd
            rowSpacing = between
            // A random phase places the tile anywhere on the planting pattern.
            origin = centre + across * Float(r.uniform(0...1)) * between + direction * Float(r.uniform(0...1)) * within
            let rows = Int(reach / between) + 1, perRow = Int(reach / within) + 1
            let jitter = 0.08 * within
            for row in -rows...rows {
                for slot in -perRow...perRow {
                    var point = origin + across * (Float(row) * between) + direction * (Float(slot) * within)
                    point += SIMD2(Float(r.uniform(-1...1)), Float(r.uniform(-1...1))) * jitter
                    guard point.x > -maxRadius, point.x < w + maxRadius, point.y > -maxRadius, point.y < h + maxRadius else { continue }
                    plant(at: point, &r)
                }
            }
        } else {
            let areaHectares = Double((w + 2 * maxRadius) * (h + 2 * maxRadius) * gsd * gsd) / 10_000
            let count = max(1, Int((treesPerHectare * areaHectares * r.uniform(0.6...1.4)).rounded()))
            for _ in 0..<count {
                plant(at: [Float(r.uniform(-1...1)) * (w / 2 + maxRadius) + w / 2,
                           Float(r.uniform(-1...1)) * (h / 2 + maxRadius) + h / 2], &r)
            }
        }

        let weedCount = r.nextInt(below: Int(w * h / 800) + 1)
        let weeds: [SIMD3<Float>] = (0..<weedCount).map { _ in
            [Float(r.uniform(0...Double(w))), Float(r.uniform(0...Double(h))), Float(r.uniform(1...3.5))]
        }
        let azimuth = Float(r.uniform(0...(2 * Double.pi)))
        return OrchardScene(
            width: settings.width, height: settings.height, bands: nir ? 4 : 3, groundSampleDistance: gsd,
            trees: trees, weeds: weeds, sun: [cos(azimuth), sin(azimuth)], shadowLength: Float(r.uniform(0.25...0.8)),
            soil: soil, grass: grass, grassCover: grassCover, rowDirection: direction, rowOrigin: origin,
            rowSpacing: rowSpacing, stripHalfWidth: maxRadius * 0.9,
            netting: netting ? OrchardScene.Netting(spacing: nettingSpacing, colour: nettingColour, opacity: Float(r.uniform(0.25...0.45))) : nil,
            noiseSeed: r.next())
    }
}

extension SplitMix64 {
    /// A uniform Double in `range`, from the top 53 bits.
    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * (Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0))
    }
}
