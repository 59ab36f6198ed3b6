import Core
import Foundation

/// What every tile of one site without trees shares: bare soil, grass (green or dry), low shrubs
/// and the shadows they cast. Tiles of such sites teach a model what is green or dark but not a
/// tree crown — the mistakes it makes on savanna and rangeland it never saw.
struct NegativeSitePlan {
    var gsd: Float
    var soil: SIMD3<Float>
    var grass: SIMD3<Float>
    var grassCover: Float
    var shrubsPerHectare: Double
    var shrubDiameter: ClosedRange<Double>
    var shrubColour: SIMD3<Float>
    var nir: Bool

    init(settings: OrchardSynth.Settings, random r: inout SplitMix64) {
        gsd = Float(r.uniform(0.05...0.3))
        // From pale dry soil to dark wet soil; grass from green to straw.
        let brightness = Float(r.uniform(0.6...1.25))
        soil = SIMD3(Float(r.uniform(110...170)), Float(r.uniform(88...130)), Float(r.uniform(62...100))) * brightness
        let dry = Float(r.uniform(0...1))
        grass = SIMD3<Float>(100, 140, 70) * (1 - dry) + SIMD3<Float>(170, 155, 105) * dry
        grassCover = Float(r.uniform(0...1))
        // A quarter of the sites bare; the others with up to dense scrub.
        shrubsPerHectare = r.uniform(0...1) < 0.25 ? 0 : r.uniform(50...2500)
        shrubDiameter = 0.4...r.uniform(1.0...3.5)
        shrubColour = [Float(r.uniform(40...95)), Float(r.uniform(55...115)), Float(r.uniform(35...75))]
        nir = r.uniform(0...1) < settings.nirShare
    }

    /// One patch of the site: its shrubs, weeds and light.
    func scene(settings: OrchardSynth.Settings, random r: inout SplitMix64) -> OrchardScene {
        let w = Float(settings.width), h = Float(settings.height)
        let maxRadius = Float(shrubDiameter.upperBound / 2) / gsd
        let areaHectares = Double((w + 2 * maxRadius) * (h + 2 * maxRadius) * gsd * gsd) / 10_000
        let count = Int((shrubsPerHectare * areaHectares * r.uniform(0.5...1.5)).rounded())
        var shrubs: [OrchardScene.Tree] = []
        for _ in 0..<count {
            let radius = Float(r.uniform(shrubDiameter) / 2) / gsd
            let stretch = Float(r.uniform(0.7...1.3))
            shrubs.append(OrchardScene.Tree(
                center: [Float(r.uniform(-1...1)) * (w / 2 + maxRadius) + w / 2, Float(r.uniform(-1...1)) * (h / 2 + maxRadius) + h / 2],
                radius: [radius * stretch, radius / stretch], height: radius * Float(r.uniform(0.3...0.8)),
                colour: shrubColour * Float(r.uniform(0.8...1.2)), nir: Float(r.uniform(120...200)), dead: false, shrub: true))
        }
        let weedCount = r.nextInt(below: Int(w * h / 400) + 1)
        let weeds: [SIMD3<Float>] = (0..<weedCount).map { _ in
            [Float(r.uniform(0...Double(w))), Float(r.uniform(0...Double(h))), Float(r.uniform(1...4))]
        }
        let azimuth = Float(r.uniform(0...(2 * Double.pi)))
        return OrchardScene(
            width: settings.width, height: settings.height, bands: nir ? 4 : 3, groundSampleDistance: gsd,
            trees: shrubs, weeds: weeds, sun: [cos(azimuth), sin(azimuth)], shadowLength: Float(r.uniform(0.4...1.2)),
            soil: soil, grass: grass, grassCover: grassCover, rowDirection: [1, 0], rowOrigin: [w / 2, h / 2],
            rowSpacing: nil, stripHalfWidth: 0, netting: nil, noiseSeed: r.next())
    }
}
