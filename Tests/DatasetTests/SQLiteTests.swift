@testable import Dataset
import Foundation
import Testing

@Suite struct SQLiteTests {
    @Test func everyStorageClassRoundTrips() throws {
        let db = try SQLite(path: Fixtures.scratchDirectory() + "/t.sqlite")
        try db.execute("CREATE TABLE t (v)")
        let values: [SQLite.Value] = [.null, .integer(-7), .integer(Int64.max), .real(0.25), .text("ä'\"x"), .blob([0, 255, 3]), .blob([])]
        for value in values { try db.run("INSERT INTO t VALUES (?)", [value]) }
        #expect(try db.rows("SELECT v FROM t ORDER BY rowid").map { $0[0] } == values)
    }

    @Test func errorsNameTheCallTheStatementAndTheDatabase() throws {
        let path = Fixtures.scratchDirectory() + "/t.sqlite"
        let db = try SQLite(path: path)
        do { try db.run("SELECT nope FROM nowhere"); Issue.record("bad SQL ran") } catch {
            #expect(error.code == "sqlite.error")
            #expect(error.message.contains("sqlite3_prepare_v2") && error.message.contains("nowhere") && error.message.contains(path))
        }
        do { try db.run("SELECT ?", []); Issue.record("a missing parameter was accepted") } catch {
            #expect(error.code == "sqlite.bind")
        }
    }

    @Test func aFailedTransactionRollsBack() throws {
        let db = try SQLite(path: Fixtures.scratchDirectory() + "/t.sqlite")
        try db.execute("CREATE TABLE t (v INTEGER UNIQUE)")
        #expect(throws: DatasetError.self) {
            try db.transaction { () throws(DatasetError) in
                try db.run("INSERT INTO t VALUES (1)")
                try db.run("INSERT INTO t VALUES (1)")
            }
        }
        #expect(try db.rows("SELECT count(*) FROM t").first?.first == .integer(0))
    }
}

@Suite struct LocalDirectorySourceTests {
    @Test func readsFilesAndRefusesPathsThatLeaveTheRoot() throws {
        let root = Fixtures.scratchDirectory()
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: root + "/a.bin"))
        let source = LocalDirectorySource(root: root)
        #expect(try source.read(path: "a.bin") == [1, 2, 3])
        for bad in ["/etc/passwd", "../a.bin", "x/../../a.bin"] {
            do { _ = try source.read(path: bad); Issue.record("\(bad) was read") } catch { #expect(error.code == "source.bad-path") }
        }
        do { _ = try source.read(path: "missing.bin"); Issue.record("a missing file was read") } catch {
            #expect(error.code == "source.io" && error.message.contains("missing.bin"))
        }
        do { _ = try LocalDirectorySource(root: root, maxFileBytes: 2).read(path: "a.bin"); Issue.record("an oversized file was read") } catch {
            #expect(error.code == "source.too-large")
        }
    }
}
