import Foundation
import Testing
@testable import Model

/// Instance extraction on hand-made maps where the right answer is known.
struct InstanceExtractionTests {
    /// A `width x height` map with Gaussian bumps of the given height at the given pixels.
    static func heatmap(width: Int, height: Int, bumps: [(x: Int, y: Int, peak: Float)]) -> [Float] {
        var heat = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                for bump in bumps {
                    let d = Float((x - bump.x) * (x - bump.x) + (y - bump.y) * (y - bump.y))
                    heat[y * width + x] = max(heat[y * width + x], bump.peak * Float(Foundation.exp(Double(-d / 8))))
                }
            }
        }
        return heat
    }

    @Test func peaksAreSuppressedWithinTheRadiusAndThresholded() {
        let extraction = InstanceExtraction(peakThreshold: 0.3, suppressionRadius: 4)
        let heat = Self.heatmap(width: 32, height: 32, bumps: [(5, 5, 0.9), (7, 6, 0.6), (20, 20, 0.8), (28, 5, 0.2)])
        let peaks = extraction.peaks(heat, width: 32, height: 32)
        // (7, 6) is within 4 px of a higher peak; (28, 5) is below the 0.3 threshold.
        #expect(peaks.map { [$0.x, $0.y] } == [[5, 5], [20, 20]])
        #expect(peaks[0].score == 0.9)
    }

    @Test func defaultsSuppressPeaksWithinHalfACrown() {
        let extraction = InstanceExtraction()
        let heat = Self.heatmap(width: 40, height: 20, bumps: [(5, 10, 0.9), (14, 10, 0.8), (30, 10, 0.8)])
        #expect(extraction.peaks(heat, width: 40, height: 20).map(\.x) == [5, 30])
    }

    @Test func plateauGivesOnePeak() {
        var heat = [Float](repeating: 0, count: 100)
        heat[44] = 0.7; heat[45] = 0.7
        let peaks = InstanceExtraction().peaks(heat, width: 10, height: 10)
        #expect(peaks.count == 1 && peaks[0].x == 4 && peaks[0].y == 4)
    }

    @Test func touchingCrownsSplitBetweenTheirSeeds() {
        // One 20x10 canopy block (a single component) with two seeds at x = 4 and x = 14.
        let width = 20, height = 10
        let canopy = [Float](repeating: 0.9, count: width * height)
        let heat = Self.heatmap(width: width, height: height, bumps: [(4, 5, 1), (14, 5, 1)])
        let extraction = InstanceExtraction(peakThreshold: 0.5, suppressionRadius: 4)
        let trees = extraction.trees(canopy: canopy, centres: heat, width: width, height: height, groundSampleDistance: 0.5)
        #expect(trees.count == 2)
        // Columns 0...8 are nearer the first seed, 10...19 the second, 9 is a tie (to the first).
        #expect(trees.map(\.pixelArea) == [100, 100])
        #expect(trees[0].pixels.allSatisfy { $0 % width <= 9 } && trees[1].pixels.allSatisfy { $0 % width >= 10 })
        #expect(trees[0].areaSquareMetres == 25)
        #expect(trees[0].centreX == 4.5 && trees[0].centreY == 5.5)
    }

    @Test func seedsDoNotCrossComponentsAndUnseededBlobsCountOnlyIfLargeEnough() {
        // Two separate canopy squares and a 2x2 speck; one seed, in the left square.
        let width = 30, height = 10
        var canopy = [Float](repeating: 0, count: width * height)
        for y in 1..<9 { for x in 1..<9 { canopy[y * width + x] = 1 } }      // 64 px, seeded
        for y in 1..<9 { for x in 15..<23 { canopy[y * width + x] = 1 } }    // 64 px, unseeded
        for y in 1..<3 { for x in 26..<28 { canopy[y * width + x] = 1 } }    // 4 px speck
        let heat = Self.heatmap(width: width, height: height, bumps: [(4, 4, 1)])
        let trees = InstanceExtraction().trees(canopy: canopy, centres: heat, width: width, height: height, groundSampleDistance: 0.1)
        #expect(trees.count == 2)
        #expect(trees[0].pixelArea == 64 && trees[0].score == 1)
        #expect(trees[1].pixelArea == 64 && trees[1].score == 0)
        #expect(trees[1].centreX == 19 && trees[1].centreY == 5)
        #expect(abs(trees[1].areaSquareMetres - 0.64) < 1e-6)
    }

    @Test func seedOffCanopyIsDropped() {
        let canopy = [Float](repeating: 0, count: 64)
        let heat = Self.heatmap(width: 8, height: 8, bumps: [(3, 3, 1)])
        #expect(InstanceExtraction().trees(canopy: canopy, centres: heat, width: 8, height: 8, groundSampleDistance: 1).isEmpty)
    }
}
