@testable import Dataset
import Testing

/// Augmentation is a pure function of (seed, sample, data epoch), and a geometric transform moves
/// the image, the canopy mask, the instance ids and the tree centres together.
@Suite struct TileAugmentationTests {
    static let everything = TileAugmentation(flip: true, rotate90: true, brightness: 0.2, contrast: 0.3, bandGain: 0.1)

    /// A square tile whose band 0 encodes its targets (`40 * instance + 100 * canopy`), so the
    /// relation between image and targets can be checked after any geometric transform. Two
    /// trees, each a block of pixels with its centre inside it.
    static func encodedTile(width: Int = 8, height: Int = 8) -> Tile {
        let count = width * height
        var canopy = [UInt8](repeating: 0, count: count), instances = [UInt16](repeating: 0, count: count)
        for y in 0..<height {
            for x in 0..<width {
                if x < 3 && y < 2 { instances[y * width + x] = 1 }
                if x >= width - 2 && y >= height - 3 { instances[y * width + x] = 2 }
                canopy[y * width + x] = instances[y * width + x] != 0 || (x + y) % 5 == 0 ? 1 : 0
            }
        }
        var pixels = [UInt8](repeating: 0, count: 3 * count)
        for i in 0..<count {
            pixels[i] = UInt8(40 * Int(instances[i]) + 100 * Int(canopy[i]))
            pixels[count + i] = UInt8(i)
            pixels[2 * count + i] = UInt8(255 - i)
        }
        let trees = [
            TreeInstance(id: 1, centerX: 1.5, centerY: 1, radius: 1.25, visiblePixels: 6),
            TreeInstance(id: 2, centerX: Float(width) - 1, centerY: Float(height) - 1.5, radius: 1.25, visiblePixels: 6),
        ]
        return Tile(id: "enc", width: width, height: height, bands: 3, groundSampleDistance: 0.1,
                    pixels: pixels, canopy: canopy, instances: instances, trees: trees)
    }

    @Test func theSameSampleAndEpochGiveTheSameBitsAndAnotherEpochAnotherDraw() {
        let tile = Fixtures.tile(width: 16, height: 16)
        let a = Self.everything.apply(to: tile, seed: 7, sample: 3, dataEpoch: 2)
        #expect(a == Self.everything.apply(to: tile, seed: 7, sample: 3, dataEpoch: 2))
        #expect(a != tile)
        // Other epochs, samples and seeds draw otherwise (a photometric draw is never repeated
        // exactly: it has 24-bit uniform parts).
        let draw = Self.everything.draw(seed: 7, sample: 3, dataEpoch: 2, square: true)
        #expect(draw != Self.everything.draw(seed: 7, sample: 3, dataEpoch: 3, square: true))
        #expect(draw != Self.everything.draw(seed: 7, sample: 4, dataEpoch: 2, square: true))
        #expect(draw != Self.everything.draw(seed: 8, sample: 3, dataEpoch: 2, square: true))
    }

    @Test func nothingSwitchedOnLeavesTheTileAlone() {
        let tile = Fixtures.tile()
        #expect(TileAugmentation().isIdentity)
        #expect(TileAugmentation().apply(to: tile, seed: 1, sample: 0, dataEpoch: 0) == tile)
    }

    @Test func geometryMovesImageMasksInstancesAndCentresTogether() {
        let tile = Self.encodedTile()
        var seen: Set<[UInt8]> = []
        for sample in 0..<64 {
            let moved = TileAugmentation(flip: true, rotate90: true).apply(to: tile, seed: 1, sample: sample, dataEpoch: 0)
            seen.insert(moved.pixels)
            for i in 0..<moved.pixelCount {
                #expect(Int(moved.pixels[i]) == 40 * Int(moved.instances[i]) + 100 * Int(moved.canopy[i]))
            }
            // Each tree's centre still falls on a pixel of that tree.
            for tree in moved.trees {
                let x = Int(tree.centerX.rounded(.down)), y = Int(tree.centerY.rounded(.down))
                #expect(moved.instances[y * moved.width + x] == tree.id, "sample \(sample): tree \(tree.id) at (\(tree.centerX), \(tree.centerY))")
            }
            #expect(moved.canopy.filter { $0 != 0 }.count == tile.canopy.filter { $0 != 0 }.count)
        }
        // All 8 symmetries of the square come up.
        #expect(seen.count == 8)
    }

    @Test func aQuarterTurnIsClockwiseAndAFlipMirrorsColumns() {
        // 3 wide, 2 high; band 0 numbers the pixels in raster order.
        let pixels: [UInt8] = [0, 1, 2, 3, 4, 5] + [UInt8](repeating: 9, count: 12)
        let tile = Tile(id: "r", width: 3, height: 2, bands: 3, groundSampleDistance: 0.1, pixels: pixels,
                        canopy: [1, 0, 0, 0, 0, 0], instances: [1, 0, 0, 0, 0, 0],
                        trees: [TreeInstance(id: 1, centerX: 0.5, centerY: 0.25, radius: 1, visiblePixels: 1)])
        var turn = TileAugmentation.Draw()
        turn.quarterTurns = 1
        let turned = TileAugmentation.transform(tile, turn)
        // 0 1 2      3 0
        // 3 4 5  ->  4 1
        //            5 2
        #expect(turned.width == 2 && turned.height == 3)
        #expect(Array(turned.pixels[0..<6]) == [3, 0, 4, 1, 5, 2])
        #expect(turned.canopy == [0, 1, 0, 0, 0, 0] && turned.instances == [0, 1, 0, 0, 0, 0])
        #expect(turned.trees[0].centerX == 1.75 && turned.trees[0].centerY == 0.5)
        var mirror = TileAugmentation.Draw()
        mirror.flipX = true
        let mirrored = TileAugmentation.transform(tile, mirror)
        #expect(Array(mirrored.pixels[0..<6]) == [2, 1, 0, 5, 4, 3])
        #expect(mirrored.trees[0].centerX == 2.5 && mirrored.trees[0].centerY == 0.25)
    }

    @Test func aTileThatIsNotSquareKeepsItsShape() {
        let tile = Fixtures.tile(width: 12, height: 9)
        for sample in 0..<32 {
            let moved = TileAugmentation(rotate90: true).apply(to: tile, seed: 3, sample: sample, dataEpoch: 1)
            #expect(moved.width == 12 && moved.height == 9)
        }
    }

    @Test func photometricChangesOnlyTheImageAndStaysInRange() {
        let tile = Fixtures.tile(width: 16, height: 16)
        let changed = TileAugmentation(brightness: 0.3, contrast: 0.5, bandGain: 0.2).apply(to: tile, seed: 5, sample: 1, dataEpoch: 0)
        #expect(changed.canopy == tile.canopy && changed.instances == tile.instances && changed.trees == tile.trees)
        #expect(changed.pixels != tile.pixels)
        // A table per band: equal inputs give equal outputs, and order is kept within a band.
        let count = tile.pixelCount
        for band in 0..<3 {
            let pairs = (0..<count).map { (tile.pixels[band * count + $0], changed.pixels[band * count + $0]) }.sorted { $0.0 < $1.0 }
            for (a, b) in zip(pairs, pairs.dropFirst()) { #expect(a.1 <= b.1) }
        }
    }

    @Test func turningPhotometricOnKeepsTheGeometricDraw() {
        let geometric = TileAugmentation(flip: true, rotate90: true)
        for sample in 0..<16 {
            let a = geometric.draw(seed: 9, sample: sample, dataEpoch: 4, square: true)
            let b = Self.everything.draw(seed: 9, sample: sample, dataEpoch: 4, square: true)
            #expect(a.flipX == b.flipX && a.flipY == b.flipY && a.quarterTurns == b.quarterTurns)
            #expect(!a.isPhotometric && b.isPhotometric)
        }
    }
}
