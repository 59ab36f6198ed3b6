import Core
import Dataset
@testable import Model
import Testing

/// Stitching a whole image from overlapping windows: no seams, whatever the tile size.
@Suite struct TiledPredictionTests {
    /// A random RGB image of an awkward size (not a multiple of any tile or of 8).
    static func image(width: Int = 203, height: Int = 157, seed: UInt64 = 7) -> TiledPrediction.Image {
        var generator = SplitMix64(seed: seed)
        let pixels = (0..<(3 * width * height)).map { _ in UInt8(generator.next() >> 56) }
        return TiledPrediction.Image(width: width, height: height, bands: 3, pixels: pixels)
    }

    /// A local model: per band a 5x5 weighted sum (radius 2) that treats the window's outside as
    /// zero, as a convolution's padding does. Two output channels.
    static func localModel(_ windows: [Tile]) -> [[Float]] {
        windows.map { tile in
            let w = tile.width, h = tile.height, plane = w * h
            var out = [Float](repeating: 0, count: 2 * plane)
            for y in 0..<h {
                for x in 0..<w {
                    var sum: Float = 0, other: Float = 0
                    for dy in -2...2 {
                        for dx in -2...2 {
                            let sx = x + dx, sy = y + dy
                            guard sx >= 0, sx < w, sy >= 0, sy < h else { continue }
                            let weight = Float(3 + dx * 2 + dy)
                            sum += weight * Float(tile.pixels[sy * w + sx])
                            other += Float(tile.pixels[2 * plane + sy * w + sx]) - Float(tile.pixels[plane + sy * w + sx])
                        }
                    }
                    out[y * w + x] = sum
                    out[plane + y * w + x] = other
                }
            }
            return out
        }
    }

    @Test func mirrorReflectsAboutTheEdgePixels() {
        #expect(TiledPrediction.mirror(-1, 5) == 1)
        #expect(TiledPrediction.mirror(-4, 5) == 4)
        #expect(TiledPrediction.mirror(5, 5) == 3)
        #expect(TiledPrediction.mirror(9, 5) == 1)
        #expect(TiledPrediction.mirror(-13, 5) == 3)
        #expect((0..<5).map { TiledPrediction.mirror($0, 5) } == [0, 1, 2, 3, 4])
        #expect(TiledPrediction.mirror(-3, 1) == 0 && TiledPrediction.mirror(4, 1) == 0)
    }

    @Test(arguments: TiledPrediction.Settings.Mode.allCases)
    func stitchedResultOfALocalModelDoesNotDependOnTheTileSize(mode: TiledPrediction.Settings.Mode) {
        let image = Self.image()
        let reference = TiledPrediction(settings: .init(tileSize: 32, margin: 8, batch: 3, mode: mode)).run(image, channels: 2, predict: Self.localModel)
        for (tile, margin, batch) in [(48, 8, 1), (64, 16, 4), (128, 8, 2), (256, 24, 5)] {
            let other = TiledPrediction(settings: .init(tileSize: tile, margin: margin, batch: batch, mode: mode))
                .run(image, channels: 2, predict: Self.localModel)
            #expect(other == reference, "\(mode): tile \(tile), margin \(margin)")
        }
        // The same as the model on the whole image mirrored at its edges: nothing is lost at the borders.
        let big = TiledPrediction(settings: .init(tileSize: 256, margin: 24, mode: mode))
        let whole = Self.localModel([big.window(image, x0: -24, y0: -24)])[0]
        for (x, y) in [(0, 0), (202, 156), (31, 100), (100, 31), (150, 64)] {
            #expect(reference[y * image.width + x] == whole[(y + 24) * 256 + x + 24])
        }
    }

    @Test func withoutAMarginTheTileEdgesShowAsSeams() {
        let image = Self.image()
        let reference = TiledPrediction(settings: .init(tileSize: 32, margin: 8, mode: .crop)).run(image, channels: 2, predict: Self.localModel)
        let seamed = TiledPrediction(settings: .init(tileSize: 32, margin: 0, mode: .crop)).run(image, channels: 2, predict: Self.localModel)
        var differing = Set<Int>()
        for y in 0..<image.height {
            for x in 0..<image.width where seamed[y * image.width + x] != reference[y * image.width + x] {
                differing.insert(min(x % 32, 31 - x % 32, y % 32, 31 - y % 32))
            }
        }
        // Only pixels within the model's radius (2) of a window edge differ, and those do.
        #expect(differing == [0, 1])
    }

    @Test func canopyNetStitchedOverOneWindowEqualsItsTilePrediction() throws {
        let net = CanopyNet(settings: .init(baseWidth: 4, depth: 3))
        let parameters = net.initialParameters(seed: 3)
        let tile = Fixtures.tile(width: 64, height: 64, crowns: [(20, 20, 9), (44, 40, 12)])
        let image = TiledPrediction.Image(width: 64, height: 64, bands: 3, pixels: tile.pixels)
        let (canopy, centres) = try net.predict(parameters: parameters, image: image, tiling: .init(tileSize: 64, margin: 0, mode: .crop))
        let direct = net.predict(parameters: parameters, tile: tile)
        #expect(canopy == direct.canopy && centres == direct.centres)
    }

    /// Mean absolute step between horizontally adjacent pixels across the columns where a window's
    /// core begins (`x % period == 0`), and across all other columns.
    static func steps(_ map: [Float], width: Int, height: Int, period: Int) -> (atEdges: Double, elsewhere: Double) {
        var edge = 0.0, edges = 0, other = 0.0, others = 0
        for y in 0..<height {
            for x in 1..<width {
                let step = Double(abs(map[y * width + x] - map[y * width + x - 1]))
                if x % period == 0 { edge += step; edges += 1 } else { other += step; others += 1 }
            }
        }
        return (edge / Double(edges), other / Double(others))
    }

    static func scene() -> (TiledPrediction.Image, Int, Int) {
        let (width, height) = (392, 264)
        var crowns: [(Float, Float, Float)] = []
        var generator = SplitMix64(seed: 21)
        for _ in 0..<40 {
            crowns.append((Float(generator.nextUnitFloat()) * Float(width), Float(generator.nextUnitFloat()) * Float(height),
                           6 + 14 * Float(generator.nextUnitFloat())))
        }
        let tile = Fixtures.tile(width: width, height: height, crowns: crowns)
        return (TiledPrediction.Image(width: width, height: height, bands: 3, pixels: tile.pixels), width, height)
    }

    @Test func canopyNetBlendedHasNoSeamsWhereCroppedSteps() throws {
        // GroupNorm normalises over the whole window, so neighbouring CanopyNet windows disagree;
        // cropped cores show it as a step at every core edge, blended ones do not.
        let net = CanopyNet(settings: .init(baseWidth: 4, depth: 3))
        let parameters = net.initialParameters(seed: 5)
        let (image, width, height) = Self.scene()
        let blended = try net.predict(parameters: parameters, image: image, tiling: .init(tileSize: 64, margin: 8, mode: .blend)).canopy
        let cropped = try net.predict(parameters: parameters, image: image, tiling: .init(tileSize: 64, margin: 8, mode: .crop)).canopy
        // Blend: cores start every 24 px; crop: every 48.
        let blendSteps = Self.steps(blended, width: width, height: height, period: 24)
        let cropSteps = Self.steps(cropped, width: width, height: height, period: 48)
        print("CanopyNet stitched, mean step at core edges against elsewhere: blend \(blendSteps), crop \(cropSteps)")
        #expect(blendSteps.atEdges < 1.3 * blendSteps.elsewhere, "blend: \(blendSteps)")
        #expect(cropSteps.atEdges > 1.5 * cropSteps.elsewhere, "crop: \(cropSteps)")
    }

    @Test func canopyNetBlendedChangesLittleWithTheMargin() throws {
        // Same window size, other margins (so other window positions): the stitched canopy mask
        // agrees on at least 97 % of the pixels (measured 98.5 % on the trained quick start
        // model over the YELL mosaic; docs/model.md).
        let net = CanopyNet(settings: .init(baseWidth: 4, depth: 3))
        let parameters = net.initialParameters(seed: 5)
        let (image, _, _) = Self.scene()
        let reference = try net.predict(parameters: parameters, image: image, tiling: .init(tileSize: 128, margin: 16)).canopy
        let other = try net.predict(parameters: parameters, image: image, tiling: .init(tileSize: 128, margin: 32)).canopy
        let agreeing = zip(reference, other).filter { ($0 >= 0.5) == ($1 >= 0.5) }.count
        let share = Double(agreeing) / Double(reference.count)
        let meanDifference = zip(reference, other).reduce(0.0) { $0 + Double(abs($1.0 - $1.1)) } / Double(reference.count)
        print("CanopyNet blended, margin 16 against 32: mask agreement \(share), mean probability difference \(meanDifference)")
        #expect(share > 0.97, "mask agreement \(share), mean probability difference \(meanDifference)")
    }

    @Test func settingsNameTheBadValue() {
        for (settings, needle) in [(TiledPrediction.Settings(tileSize: 100, margin: 8), "tile size 100"),
                                   (TiledPrediction.Settings(tileSize: 128, margin: 12, mode: .crop), "margin 12"),
                                   (TiledPrediction.Settings(tileSize: 64, margin: 32), "margin 32 leaves no core"),
                                   (TiledPrediction.Settings(tileSize: 64, margin: 8, batch: 0), "batch 0")] {
            do {
                try settings.validate(alignment: 8)
                Issue.record("\(settings) was accepted")
            } catch { #expect(error.message.contains(needle), "\(error.message)") }
        }
        #expect(TiledPrediction(settings: .init(tileSize: 128, margin: 32, mode: .crop)).windowCount(width: 2048, height: 2048) == 32 * 32)
        // Blend: cores every 48 px from -48: 44 per axis for 2048.
        #expect(TiledPrediction(settings: .init(tileSize: 128, margin: 16)).windowCount(width: 2048, height: 2048) == 44 * 44)
        do {
            try TiledPrediction.Settings(tileSize: 120, margin: 8).validate(alignment: 8)
            Issue.record("a core of 104 (half 52, not a multiple of 8) was accepted for blending")
        } catch { #expect(error.message.contains("half the core")) }
    }

    @Test func predictRefusesAnImageWithOtherBands() {
        let net = CanopyNet(settings: .init(baseWidth: 4, depth: 2))
        let grey = TiledPrediction.Image(width: 16, height: 16, bands: 1, pixels: [UInt8](repeating: 9, count: 256))
        #expect(throws: ModelError.self) { try net.predict(parameters: net.initialParameters(seed: 1), image: grey, tiling: .init(tileSize: 16, margin: 4)) }
    }
}
