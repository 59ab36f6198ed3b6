import Dataset
@testable import Model
import Testing

@Suite struct ValidationSheetTests {
    @Test func picksTilesSpreadOverTheRange() {
        #expect(ValidationSheet.pick(6, from: 10..<26) == [10, 12, 15, 18, 20, 23])
        #expect(ValidationSheet.pick(6, from: 3..<5) == [3, 4])
        #expect(ValidationSheet.pick(6, from: 0..<0).isEmpty)
    }

    @Test func outlinesTruthInCyanAndPredictionInYellowSideBySide() throws {
        let net = CanopyNet(settings: .init(baseWidth: 4, depth: 2))
        let parameters = net.initialParameters(seed: 2)
        let tiles = [Fixtures.tile(width: 32, height: 32, crowns: [(16, 16, 8)]),
                     Fixtures.tile(id: "b", width: 32, height: 32, crowns: [(8, 24, 5)], seed: 3)]
        let sheet = try #require(ValidationSheet.render(net: net, parameters: parameters, tiles: tiles))
        #expect(sheet.width == 32 + ValidationSheet.gap + 32 && sheet.height == 32 && sheet.channels == 3)
        func rgb(_ x: Int, _ y: Int) -> [UInt8] { Array(sheet.bytes[((y * sheet.width + x) * 3)..<((y * sheet.width + x) * 3 + 3)]) }
        #expect(rgb(33, 5) == [255, 255, 255], "the gap between tiles is white")
        let predicted = net.predict(parameters: parameters, tile: tiles[0]).canopy.map { $0 >= 0.5 }
        let truth = tiles[0].canopy.map { $0 != 0 }
        var cyan = 0
        for y in 0..<32 {
            for x in 0..<32 {
                let predictedEdge = ValidationSheet.isEdge(predicted, x, y, 32, 32)
                if predictedEdge { #expect(rgb(x, y) == [255, 220, 0]) }
                else if ValidationSheet.isEdge(truth, x, y, 32, 32) { #expect(rgb(x, y) == [0, 230, 255]); cyan += 1 }
                else { #expect(rgb(x, y) == [tiles[0].pixels[y * 32 + x], tiles[0].pixels[1024 + y * 32 + x], tiles[0].pixels[2048 + y * 32 + x]]) }
            }
        }
        #expect(cyan > 20, "the crown of radius 8 has an outline")
        #expect(ValidationSheet.render(net: net, parameters: parameters, tiles: []) == nil)
    }

    @Test func edgeNeedsANeighbourOutside() {
        // A 3x3 block in a 5x5 mask: its centre is inside, its ring is edge, outside is not.
        var mask = [Bool](repeating: false, count: 25)
        for y in 1...3 { for x in 1...3 { mask[y * 5 + x] = true } }
        #expect(!ValidationSheet.isEdge(mask, 2, 2, 5, 5))
        #expect(ValidationSheet.isEdge(mask, 1, 1, 5, 5) && ValidationSheet.isEdge(mask, 3, 2, 5, 5))
        #expect(!ValidationSheet.isEdge(mask, 0, 0, 5, 5))
        #expect(ValidationSheet.isEdge([true], 0, 0, 1, 1), "a mask pixel on the tile's edge is an edge")
    }
}
