import Core
@testable import Dataset
import Foundation
import Testing

@Suite struct ManifestTests {
    @Test func sameQueryAndCatalogGiveTheSameHash() throws {
        let catalog = try CatalogTests.filled(Fixtures.scratchDirectory())
        let a = try catalog.freeze(name: "a", query: "crop = 'apple'", now: Date(timeIntervalSince1970: 0))
        let b = try catalog.freeze(name: "b", query: "crop = 'apple'", now: Date(timeIntervalSince1970: 999))
        #expect(a.sha256 == b.sha256)
        #expect(a.entries.map(\.id) == ["s0", "s2", "s4"])
        #expect(a.count == 3)
        #expect(a.catalogState == (try catalog.stateHash()))
        #expect(try catalog.manifests().map(\.name) == ["a", "b"])
    }

    @Test func anotherQueryOrAnotherCatalogStateGivesAnotherHash() throws {
        let catalog = try CatalogTests.filled(Fixtures.scratchDirectory())
        let base = try catalog.freeze(name: "base", query: "crop = 'apple'")
        let other = try catalog.freeze(name: "other", query: "crop = 'apple' AND netting = 0")
        #expect(other.sha256 != base.sha256)
        // A change the query does not select still changes the catalog state, so the hash moves.
        try catalog.recordLosses([("s1", 0.5, 3)])
        let later = try catalog.freeze(name: "later", query: "crop = 'apple'")
        #expect(later.entries == base.entries)
        #expect(later.catalogState != base.catalogState)
        #expect(later.sha256 != base.sha256)
    }

    @Test func fullSelectKeepsItsOrder() throws {
        let catalog = try CatalogTests.filled(Fixtures.scratchDirectory())
        let manifest = try catalog.freeze(name: "desc", query: "SELECT id FROM samples WHERE crop = 'vine' ORDER BY id DESC")
        #expect(manifest.entries.map(\.id) == ["s3", "s1"])
        #expect(manifest.entries[0].path == (try catalog.record(id: "s3"))?.path)
    }

    @Test func loadVerifiesTheHashAndTheCatalogRecord() throws {
        let directory = Fixtures.scratchDirectory()
        let catalog = try CatalogTests.filled(directory)
        let frozen = try catalog.freeze(name: "m", query: "1")
        #expect(try catalog.manifest(named: "m") == frozen)
        let path = directory + "/manifests/m.json"
        #expect(try Manifest.load(path) == frozen)
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"s3\"", with: "\"s9\"")
        do {
            _ = try Manifest.decode(Array(text.utf8), origin: path)
            Issue.record("an altered manifest was accepted")
        } catch { #expect(error.code == "manifest.hash-mismatch" && error.message.contains(path)) }
    }

    @Test func freezingRefusesBadRequests() throws {
        let catalog = try CatalogTests.filled(Fixtures.scratchDirectory())
        try catalog.freeze(name: "taken", query: "1")
        let cases: [(String, String, String)] = [
            ("taken", "1", "manifest.exists"),
            ("x y", "1", "manifest.bad-name"),
            ("none", "crop = 'pear'", "manifest.empty"),
            ("write", "DELETE FROM samples", "sqlite.error"),          // a predicate cannot hold a statement
            ("write2", "SELECT id FROM samples; DELETE FROM samples", "sqlite.multiple-statements"),
            ("dup", "SELECT id FROM samples UNION ALL SELECT id FROM samples", "manifest.duplicate"),
            ("num", "SELECT tree_count FROM samples", "manifest.bad-query"),
        ]
        for (name, query, code) in cases {
            do {
                try catalog.freeze(name: name, query: query)
                Issue.record("freeze \(name) `\(query)` succeeded")
            } catch { #expect(error.code == code, "\(name): \(error)") }
        }
        #expect(try catalog.count() == 5)
        #expect(try catalog.manifests().map(\.name) == ["taken"])
    }

    @Test func writingStatementsAreRefusedByTheReadOnlyCheck() throws {
        let catalog = try CatalogTests.filled(Fixtures.scratchDirectory())
        do {
            try catalog.freeze(name: "w", query: "WITH x AS (SELECT 1) DELETE FROM samples RETURNING id")
            Issue.record("a writing statement was run")
        } catch { #expect(error.code == "manifest.not-read-only") }
        #expect(try catalog.count() == 5)
    }
}

@Suite struct ManifestFormatTests {
    @Test func unknownVersionsAndWrongCountsAreRefused() throws {
        let manifest = Manifest(name: "m", query: "q", catalogState: "c", createdAt: "t",
                                entries: [Manifest.Entry(id: "a", sha256: "h", path: "p")])
        #expect(try Manifest.decode(manifest.jsonBytes(), origin: "m.json") == manifest)
        var future = manifest
        future.version = 2
        do { _ = try Manifest.decode(future.jsonBytes(), origin: "m.json"); Issue.record("version 2 was read") } catch {
            #expect(error.code == "manifest.unknown-version")
        }
        var short = manifest
        short.count = 5
        do { _ = try Manifest.decode(short.jsonBytes(), origin: "m.json"); Issue.record("a wrong count was read") } catch {
            #expect(error.code == "manifest.bad-count")
        }
        do { _ = try Manifest.decode(Array("{".utf8), origin: "m.json"); Issue.record("broken JSON was read") } catch {
            #expect(error.code == "manifest.malformed")
        }
    }

    @Test func theHashCoversTheCanonicalTextOnly() {
        let entries = [Manifest.Entry(id: "a", sha256: "h", path: "p")]
        let a = Manifest(name: "one", query: "q", catalogState: "c", createdAt: "t1", entries: entries)
        let b = Manifest(name: "two", query: "q", catalogState: "c", createdAt: "t2", entries: entries)
        #expect(a.sha256 == b.sha256)
        #expect(a.sha256 == SHA256.hex(Array("grove-manifest v1\nquery 1:q\ncatalog c\ncount 1\na\th\tp\n".utf8)))
        #expect(Manifest(name: "one", query: "q2", catalogState: "c", createdAt: "t1", entries: entries).sha256 != a.sha256)
        #expect(Manifest(name: "one", query: "q", catalogState: "c", createdAt: "t1", entries: entries + entries).sha256 != a.sha256)
    }
}
