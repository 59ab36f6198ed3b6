@testable import Dataset
import Foundation
import Testing

@Suite struct CatalogTests {
    static func labels(crop: String = "apple", split: String = "train", netting: Bool = false) -> SampleLabels {
        SampleLabels(source: "test", site: "block-\(crop)", crop: crop, split: split, netting: netting, plantingDensity: 2500)
    }

    /// A catalog with five samples: three apple (one netted), two vine.
    static func filled(_ directory: String) throws -> Catalog {
        let catalog = try Catalog(directory: directory)
        let crops = ["apple", "vine", "apple", "vine", "apple"]
        try catalog.insert(crops.enumerated().map { i, crop in
            PreparedSample(tile: Fixtures.tile(id: "s\(i)", seed: i), labels: labels(crop: crop, netting: i == 4))
        })
        return catalog
    }

    @Test func freshCatalogHasTheCurrentSchema() throws {
        let catalog = try Catalog(directory: Fixtures.scratchDirectory())
        #expect(try catalog.schemaVersion == CatalogSchema.currentVersion)
        let tables = try catalog.db.rows("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").compactMap { $0[0].string }
        #expect(tables == ["manifests", "samples"])
        #expect(try catalog.db.rows("PRAGMA journal_mode").first?.first?.string == "wal")
    }

    @Test func openingWithoutCreateRequiresAnExistingCatalog() throws {
        let directory = Fixtures.scratchDirectory() + "/nested"
        do { _ = try Catalog(directory: directory, create: false); Issue.record("a missing catalog was opened") } catch {
            #expect(error.code == "catalog.missing" && error.message.contains(directory))
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
        _ = try Catalog(directory: directory)
        #expect(try Catalog(directory: directory, create: false).count() == 0)
    }

    @Test func oldCatalogIsMigratedInPlaceKeepingItsRows() throws {
        let directory = Fixtures.scratchDirectory()
        do {
            let db = try SQLite(path: directory + "/" + Catalog.databaseName)
            try db.execute(CatalogSchema.migrations[0])
            try db.execute("PRAGMA user_version = 1")
            let record = PreparedSample(tile: Fixtures.tile(id: "old"), labels: Self.labels()).record
            // The columns of schema version 1: neither labels_complete (3) nor the tile origin (4).
            let columns = Catalog.columns.replacingOccurrences(of: ", labels_complete", with: "")
                .replacingOccurrences(of: ", source_image, tile_x, tile_y", with: "")
            try db.run("INSERT INTO samples (\(columns)) VALUES (\(Array(repeating: "?", count: 20).joined(separator: ",")))",
                       Catalog.values(of: record).enumerated().filter { $0.offset != 17 && $0.offset < 21 }.map(\.element))
        }
        let catalog = try Catalog(directory: directory)
        #expect(try catalog.schemaVersion == 4)
        let old = try #require(try catalog.record(id: "old"))
        #expect(old.labels.labelsComplete)
        #expect(old.labels.crop == "apple")
        #expect(old.labels.origin == nil)
    }

    @Test func catalogFromANewerProgramIsRefused() throws {
        let directory = Fixtures.scratchDirectory()
        try SQLite(path: directory + "/" + Catalog.databaseName).execute("PRAGMA user_version = 99")
        #expect(throws: DatasetError.self) { try Catalog(directory: directory) }
        do { _ = try Catalog(directory: directory) } catch { #expect(error.code == "catalog.schema-too-new" && error.message.contains("99")) }
    }

    @Test func insertWritesFilesAndRowsThatQueriesFind() throws {
        let directory = Fixtures.scratchDirectory()
        let catalog = try Self.filled(directory)
        #expect(try catalog.count() == 5)
        #expect(try catalog.count(where: "crop = ?", [.text("apple")]) == 3)
        #expect(try catalog.records(where: "crop = 'apple' AND netting = 1").map(\.id) == ["s4"])
        #expect(try catalog.records(orderBy: "id DESC").map(\.id) == ["s4", "s3", "s2", "s1", "s0"])
        let record = try #require(try catalog.record(id: "s2"))
        let tile = Fixtures.tile(id: "s2", seed: 2)
        #expect(record.treeCount == 2)
        #expect(record.canopyFraction == Double(tile.canopy.filter { $0 == 1 }.count) / Double(tile.pixelCount))
        #expect(abs(record.meanTreeArea - Double(tile.trees[0].visiblePixels + tile.trees[1].visiblePixels) / 2 * 0.01) < 1e-6)
        #expect(record.labels.plantingDensity == 2500)
        let bytes = try catalog.source.read(path: record.path)
        #expect(try SampleFile.decode(bytes, origin: record.path) == tile)
    }

    @Test func summaryGroupsBySourceCropAndSplit() throws {
        let catalog = try Self.filled(Fixtures.scratchDirectory())
        let groups = try catalog.summary()
        #expect(groups.map(\.crop) == ["apple", "vine"])
        #expect(groups.map(\.samples) == [3, 2])
        #expect(groups.allSatisfy { $0.meanTreeCount == 2 && $0.source == "test" && $0.split == "train" })
    }

    @Test func reinsertingIsANoOpAndConflictingContentIsRefused() throws {
        let catalog = try Self.filled(Fixtures.scratchDirectory())
        let again = try catalog.insert([PreparedSample(tile: Fixtures.tile(id: "s1", seed: 1), labels: Self.labels(crop: "vine"))])
        #expect(again == Catalog.InsertSummary(added: 0, unchanged: 1))
        do {
            try catalog.insert([PreparedSample(tile: Fixtures.tile(id: "s1", seed: 9), labels: Self.labels())])
            Issue.record("conflicting content was accepted")
        } catch { #expect(error.code == "catalog.conflict" && error.message.contains("s1")) }
        do {
            try catalog.insert([PreparedSample(tile: Fixtures.tile(id: "../escape"), labels: Self.labels())])
            Issue.record("a path-like id was accepted")
        } catch { #expect(error.code == "catalog.bad-id") }
        #expect(try catalog.count() == 5)
    }

    @Test func lossesAreRecordedTogetherAndOnlyMoveForward() throws {
        let catalog = try Self.filled(Fixtures.scratchDirectory())
        try catalog.recordLosses([("s0", 0.5, 10), ("s1", 0.25, 10)])
        try catalog.recordLosses([("s0", 0.9, 4)])          // older report: ignored
        #expect(try catalog.record(id: "s0")?.lastLoss == 0.5)
        #expect(try catalog.record(id: "s0")?.lastSeenStep == 10)
        do {
            try catalog.recordLosses([("s2", 0.125, 11), ("nope", 1, 11)])
            Issue.record("an unknown sample was accepted")
        } catch { #expect(error.code == "catalog.unknown-sample" && error.message.contains("nope")) }
        #expect(try catalog.record(id: "s2")?.lastLoss == nil)   // the whole batch rolled back
        #expect(try catalog.records(where: "last_loss > 0.3").map(\.id) == ["s0"])
    }

    @Test func aFailedBatchLeavesNeitherRowsNorFiles() throws {
        let directory = Fixtures.scratchDirectory()
        let catalog = try Self.filled(directory)
        let batch = [
            PreparedSample(tile: Fixtures.tile(id: "new", seed: 20), labels: Self.labels()),
            PreparedSample(tile: Fixtures.tile(id: "s0", seed: 21), labels: Self.labels()),     // conflicts
        ]
        #expect(throws: DatasetError.self) { try catalog.insert(batch) }
        #expect(try catalog.record(id: "new") == nil)
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + batch[0].record.path))
        #expect(FileManager.default.fileExists(atPath: directory + "/" + (try catalog.record(id: "s0")!).path))
    }
}
