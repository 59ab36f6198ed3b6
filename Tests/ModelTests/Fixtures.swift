import Core
import Dataset
@testable import Model

/// Hand-made tiles and helpers for the model tests.
enum Fixtures {
    /// A tile with bright round crowns on a darker, noisy ground; canopy, instance ids and trees
    /// agree with each other. `crowns` are (centre x, centre y, radius) in pixels.
    static func tile(id: String = "synthetic", width: Int, height: Int, bands: Int = 3,
                     crowns: [(Float, Float, Float)], seed: UInt64 = 1) -> Tile {
        var generator = SplitMix64(seed: seed)
        let plane = width * height
        var pixels = [UInt8](repeating: 0, count: bands * plane)
        var canopy = [UInt8](repeating: 0, count: plane), instances = [UInt16](repeating: 0, count: plane)
        var visible = [Int](repeating: 0, count: crowns.count)
        for y in 0..<height {
            for x in 0..<width {
                let p = y * width + x
                for (index, crown) in crowns.enumerated() {
                    let dx = Float(x) + 0.5 - crown.0, dy = Float(y) + 0.5 - crown.1
                    if dx * dx + dy * dy <= crown.2 * crown.2 && instances[p] == 0 {
                        instances[p] = UInt16(index + 1)
                        canopy[p] = 1
                        visible[index] += 1
                    }
                }
                for band in 0..<bands {
                    let base: Float = canopy[p] == 1 ? (band == 1 ? 150 : 90) : 60
                    pixels[band * plane + p] = UInt8(max(0, min(255, base + 30 * generator.nextUnitFloat())))
                }
            }
        }
        let trees = crowns.enumerated().map { index, crown in
            TreeInstance(id: UInt16(index + 1), centerX: crown.0, centerY: crown.1, radius: crown.2, visiblePixels: visible[index])
        }
        return Tile(id: id, width: width, height: height, bands: bands, groundSampleDistance: 0.1,
                    pixels: pixels, canopy: canopy, instances: instances, trees: trees)
    }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        var diff = 0.0, na = 0.0, nb = 0.0
        for i in 0..<a.count {
            diff += Double(a[i] - b[i]) * Double(a[i] - b[i])
            na += Double(a[i]) * Double(a[i])
            nb += Double(b[i]) * Double(b[i])
        }
        return diff.squareRoot() / max(na.squareRoot(), nb.squareRoot(), 1e-12)
    }

    /// Whether this test binary was built without optimisation (SwiftPM defines DEBUG there):
    /// training tests only run optimised, where they take seconds instead of minutes.
    static var isDebugBuild: Bool {
        #if DEBUG
        return true
        #else
        return false
        #endif
    }
}
