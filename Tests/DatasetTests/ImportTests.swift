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

        let again = try catalog.import(tileDirectory: Fixtures.aerialSample)
        #expect(again == Catalog.InsertSummary(added: 0, unchanged: 81))
    }
}
