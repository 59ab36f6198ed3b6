@testable import Dataset
import Testing

@Suite struct ImportTests {
    @Test func importsTheVendoredAerialSample() throws {
        let catalog = try Catalog(directory: Fixtures.scratchDirectory())
        let summary = try catalog.import(tileDirectory: Fixtures.aerialSample)
        #expect(summary == Catalog.InsertSummary(added: 81, unchanged: 0))
        #expect(try catalog.count() == 81)
        #expect(try catalog.count(where: "site = 'YELL'") == 72)
        #expect(try catalog.count(where: "site = 'SJER' AND labels_complete = 0") == 9)
        #expect(try catalog.count(where: "source = 'aerial-sample' AND synthetic = 0") == 81)
        #expect(try catalog.count(where: "tree_count = 0") == 1)
        // tiles.csv's own statistics agree with the ones computed from the decoded tile.
        let record = try #require(try catalog.record(id: "YELL541_x0256_y0000"))
        #expect(abs(record.canopyFraction - 0.495) < 0.0005)
        #expect(record.treeCount == 6)
        #expect(record.width == 128 && record.bands == 3 && record.groundSampleDistance == Double(Float(0.1)))
        let tile = try SampleFile.decode(try catalog.source.read(path: record.path), origin: record.path)
        #expect(tile.trees.count == 6 && tile.trees[0].visiblePixels == 2483)
        #expect(tile.instances.max() == 6)

        #expect(record.labels.origin == TileOrigin(image: "2019_YELL_2_541000_4977000_image_crop.png", x: 256, y: 0))
        // A held-out region is a query over the tile positions: the YELL image is 9 x 8 tiles.
        #expect(try catalog.count(where: "site = 'YELL' AND tile_x >= 896") == 16)
        #expect(try catalog.count(where: "source_image LIKE '2018_SJER%' AND tile_y = 256") == 3)

        let again = try catalog.import(tileDirectory: Fixtures.aerialSample)
        #expect(again == Catalog.InsertSummary(added: 0, unchanged: 81))
    }

    @Test func reimportFillsTilePositionsOfRowsAddedBeforeTheyWereRecorded() throws {
        let catalog = try Catalog(directory: Fixtures.scratchDirectory())
        try catalog.import(tileDirectory: Fixtures.aerialSample)
        try catalog.db.execute("UPDATE samples SET source_image = NULL, tile_x = NULL, tile_y = NULL WHERE site = 'SJER'")
        try catalog.db.execute("UPDATE samples SET tile_x = 7 WHERE id = 'YELL541_x0000_y0000'")
        #expect(try catalog.count(where: "tile_x IS NULL") == 9)
        try catalog.import(tileDirectory: Fixtures.aerialSample)
        #expect(try catalog.count(where: "tile_x IS NULL") == 0)
        #expect(try catalog.record(id: "SJER477_x0128_y0256")?.labels.origin?.x == 128)
        // A position already recorded is never rewritten.
        #expect(try catalog.record(id: "YELL541_x0000_y0000")?.labels.origin?.x == 7)
    }
}
