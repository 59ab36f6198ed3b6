import Core
import Foundation
import Glibc

/// A directory of sample files indexed by an SQLite database:
///
///     <directory>/catalog.sqlite        the `samples` and `manifests` tables (WAL mode)
///     <directory>/samples/<xx>/<id>.gts.gz
///     <directory>/manifests/<name>.json
///
/// Sample files are immutable: an id, once added, always names the same content hash. Re-adding
/// the same content is a no-op; different content under a known id is refused.
///
/// Not `Sendable`: one catalog is used from one thread. Pipelines read sample files through a
/// `SampleSource`, never through the database.
public final class Catalog {
    public static let databaseName = "catalog.sqlite"
    public let directory: String
    public let db: SQLite
    private var createdFolders: Set<String> = []

    /// Opens the catalog in `directory`, migrating its schema as needed. With `create` false a
    /// missing catalog is an error rather than a new empty one, so that a mistyped path is not
    /// silently answered with "0 samples".
    public init(directory: String, create: Bool = true) throws(DatasetError) {
        self.directory = directory
        if !create && !FileManager.default.fileExists(atPath: directory + "/" + Catalog.databaseName) {
            throw DatasetError(code: "catalog.missing", "there is no catalog in \(directory) (no \(Catalog.databaseName)); import or synthesise samples first")
        }
        for folder in ["", "/samples", "/manifests"] {
            do {
                try FileManager.default.createDirectory(atPath: directory + folder, withIntermediateDirectories: true)
            } catch {
                throw DatasetError(code: "catalog.unwritable", "cannot create catalog folder \(directory + folder): \(error.localizedDescription)")
            }
        }
        db = try SQLite(path: directory + "/" + Catalog.databaseName)
        try CatalogSchema.migrate(db)
    }

    /// The schema version the database is at (after migration, always the current one).
    public var schemaVersion: Int { get throws(DatasetError) { try CatalogSchema.version(of: db) } }

    /// Reads sample files of this catalog by their catalog-relative paths.
    public var source: LocalDirectorySource { LocalDirectorySource(root: directory) }

    /// What an insert did.
    public struct InsertSummary: Sendable, Equatable {
        public var added = 0
        /// Samples already present with the same content hash.
        public var unchanged = 0
    }

    /// Writes the sample files and adds their rows, all rows in one transaction.
    @discardableResult
    public func insert(_ samples: [PreparedSample], now: Date = Date()) throws(DatasetError) -> InsertSummary {
        let addedAt = ISO8601DateFormatter().string(from: now)
        var written: [String] = []
        do throws(DatasetError) {
            return try insertRows(samples, addedAt: addedAt, written: &written)
        } catch {
            // The rows rolled back; the files written for them would be orphans.
            for path in written { unlink(directory + "/" + path) }
            throw error
        }
    }

    private func insertRows(_ samples: [PreparedSample], addedAt: String, written: inout [String]) throws(DatasetError) -> InsertSummary {
        try db.transaction { () throws(DatasetError) -> InsertSummary in
            let existing = try db.prepare("SELECT content_hash FROM samples WHERE id = ?")
            let insert = try db.prepare("INSERT INTO samples (\(Catalog.columns)) VALUES (\(Catalog.placeholders))")
            // Rows added before the catalog recorded tile positions get them when the same
            // content is imported again; a recorded position is never changed.
            let locate = try db.prepare("UPDATE samples SET source_image = ?, tile_x = ?, tile_y = ? WHERE id = ? AND source_image IS NULL")
            var summary = InsertSummary()
            for sample in samples {
                var record = sample.record
                guard PreparedSample.isValidID(record.id) else {
                    throw DatasetError(code: "catalog.bad-id",
                                       "sample id '\(record.id)' must be letters, digits, '.', '_' or '-' (up to 200, not starting with '.')")
                }
                try existing.bind([.text(record.id)])
                if try existing.step() {
                    let hash = existing.value(0).string ?? ""
                    guard hash == record.contentHash else {
                        throw DatasetError(code: "catalog.conflict",
                                           "sample \(record.id) is already in \(directory) with content \(hash), new content is \(record.contentHash)")
                    }
                    if let origin = record.labels.origin {
                        try locate.bind([.text(origin.image), .integer(Int64(origin.x)), .integer(Int64(origin.y)), .text(record.id)])
                        _ = try locate.step()
                    }
                    summary.unchanged += 1
                    continue
                }
                try writeFile(sample.bytes, at: record.path)
                written.append(record.path)
                record.addedAt = addedAt
                try insert.bind(Catalog.values(of: record))
                _ = try insert.step()
                summary.added += 1
            }
            // One flush for the whole batch, before the rows that point at the files commit:
            // a row never names a file that a crash could lose, at one sync instead of one per file.
            if summary.added > 0 { try syncFileSystem() }
            return summary
        }
    }

    /// The record of sample `id`, or nil.
    public func record(id: String) throws(DatasetError) -> SampleRecord? {
        try records(where: "id = ?", [.text(id)]).first
    }

    /// Records matching an SQL predicate over the `samples` columns, in `orderBy` order.
    public func records(where predicate: String = "1", _ values: [SQLite.Value] = [], orderBy: String = "id") throws(DatasetError) -> [SampleRecord] {
        let statement = try db.prepare("SELECT \(Catalog.columns) FROM samples WHERE \(predicate) ORDER BY \(orderBy)")
        try statement.bind(values)
        var result: [SampleRecord] = []
        while try statement.step() { result.append(try Catalog.record(from: statement.row(), in: directory)) }
        return result
    }

    /// Number of samples matching an SQL predicate.
    public func count(where predicate: String = "1", _ values: [SQLite.Value] = []) throws(DatasetError) -> Int {
        try db.rows("SELECT count(*) FROM samples WHERE \(predicate)", values).first?.first?.int ?? 0
    }

    /// Records the loss each sample had when it was last trained on, all in one transaction.
    /// A report older than the one stored (a smaller step) leaves the newer one in place; an
    /// unknown sample id fails the whole batch.
    public func recordLosses(_ losses: [(sampleID: String, loss: Double, step: Int)]) throws(DatasetError) {
        try db.transaction { () throws(DatasetError) in
            let update = try db.prepare("""
                UPDATE samples SET last_loss = ?1, last_seen_step = ?2
                WHERE id = ?3 AND (last_seen_step IS NULL OR last_seen_step <= ?2)
                """)
            let exists = try db.prepare("SELECT 1 FROM samples WHERE id = ?")
            for (id, loss, step) in losses {
                guard loss.isFinite else {
                    throw DatasetError(code: "catalog.bad-loss", "loss \(loss) of sample \(id) at step \(step) is not finite")
                }
                try update.bind([.real(loss), .integer(Int64(step)), .text(id)])
                _ = try update.step()
                if db.changes == 0 {
                    try exists.bind([.text(id)])
                    guard try exists.step() else {
                        throw DatasetError(code: "catalog.unknown-sample", "loss reported for sample \(id), which is not in \(directory)")
                    }
                }
            }
        }
    }

    /// A SHA-256 over every column of every sample row in id order: two catalogs with the same
    /// state hash answer every query the same way.
    public func stateHash() throws(DatasetError) -> String {
        var hasher = SHA256()
        hasher.update(Array("grove-catalog-state v\(CatalogSchema.currentVersion)\n".utf8))
        let statement = try db.prepare("SELECT * FROM samples ORDER BY id")
        hasher.update(Array((0..<statement.columnCount).map(statement.columnName).joined(separator: ",").utf8))
        while try statement.step() {
            var line = ""
            for column in 0..<statement.columnCount {
                line += statement.value(column).canonical
                line += "\u{1F}"
            }
            line += "\n"
            hasher.update(Array(line.utf8))
        }
        return hasher.finalize().hexString
    }

    /// Writes a sample file through a temporary name and a rename, so that a reader never sees
    /// half a file. Durability comes from `syncFileSystem` once per batch.
    private func writeFile(_ bytes: [UInt8], at relativePath: String) throws(DatasetError) {
        let path = directory + "/" + relativePath
        let folder = String(path[..<path.lastIndex(of: "/")!])
        if !createdFolders.contains(folder) {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw DatasetError(code: "catalog.unwritable", "cannot create folder \(folder): \(error.localizedDescription)")
            }
            createdFolders.insert(folder)
        }
        let temporary = path + ".partial"
        let fd = try catalogCall("create \(temporary)") { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        var written = 0
        let failure: DatasetError? = bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                do throws(DatasetError) {
                    written += try catalogCall("write \(temporary)") { write(fd, buffer.baseAddress! + written, buffer.count - written) }
                } catch { return error }
            }
            return nil
        }
        close(fd)
        if let failure { throw failure }
        try catalogCall("rename \(temporary)") { rename(temporary, path) }
    }

    /// `sync(2)`: Glibc's module does not export the per-filesystem `syncfs`, and one global
    /// flush per batch is still far cheaper than an fsync per file.
    private func syncFileSystem() throws(DatasetError) {
        sync()
    }
}

/// `posixCall` with the catalog's error code.
@discardableResult
private func catalogCall<T: BinaryInteger>(_ what: String, _ body: () -> T) throws(DatasetError) -> T {
    do { return try posixCall(what, body) } catch {
        throw DatasetError(code: "catalog.unwritable", error.message)
    }
}

extension Catalog {
    /// The largest `last_seen_step` of any sample, or 0 when no loss was ever recorded.
    public func newestVisitStep() throws(DatasetError) -> Int {
        try db.rows("SELECT max(last_seen_step) FROM samples").first?.first?.int ?? 0
    }
}
