import Foundation

/// Freezing catalog queries into manifests, and the `manifests` provenance table.
extension Catalog {
    /// One row of the `manifests` table.
    public struct ManifestRecord: Sendable, Equatable {
        public var name: String
        /// The manifest file, relative to the catalog directory.
        public var path: String
        public var sha256: String
        public var query: String
        public var catalogState: String
        public var count: Int
        public var createdAt: String
    }

    /// Runs `query` and freezes its answer as manifest `name`.
    ///
    /// `query` is either a full read-only `SELECT` whose first column is a sample id (its order is
    /// the manifest's order), or a predicate over the `samples` columns, which selects those
    /// samples in id order (`crop = 'apple' AND tree_count > 10`). The catalog state, the query
    /// and the provenance row are read and written in one transaction.
    @discardableResult
    public func freeze(name: String, query: String, now: Date = Date()) throws(DatasetError) -> Manifest {
        guard PreparedSample.isValidID(name) else {
            throw DatasetError(code: "manifest.bad-name", "manifest name '\(name)' must be letters, digits, '.', '_' or '-'")
        }
        let sql = Catalog.selectStatement(for: query)
        let relativePath = "manifests/\(name).json"
        return try db.transaction { () throws(DatasetError) -> Manifest in
            guard try db.rows("SELECT 1 FROM manifests WHERE name = ?", [.text(name)]).isEmpty,
                  !FileManager.default.fileExists(atPath: directory + "/" + relativePath) else {
                throw DatasetError(code: "manifest.exists", "manifest '\(name)' already exists in \(directory); manifests are immutable, pick another name")
            }
            let state = try stateHash()
            let entries = try entries(for: sql)
            guard !entries.isEmpty else {
                throw DatasetError(code: "manifest.empty", "query `\(sql)` matches no samples in \(directory)")
            }
            let manifest = Manifest(name: name, query: sql, catalogState: state,
                                    createdAt: ISO8601DateFormatter().string(from: now), entries: entries)
            try writeManifest(manifest, at: relativePath)
            // If the provenance row cannot be written, the transaction rolls back and the file
            // must go too, or the name would stay taken by a manifest the catalog never recorded.
            do throws(DatasetError) {
                try db.run("INSERT INTO manifests (name, path, sha256, query, catalog_state, sample_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [.text(name), .text(relativePath), .text(manifest.sha256), .text(sql), .text(state),
                        .integer(Int64(entries.count)), .text(manifest.createdAt)])
            } catch {
                try? FileManager.default.removeItem(atPath: directory + "/" + relativePath)
                throw error
            }
            return manifest
        }
    }

    /// Every frozen manifest, oldest first.
    public func manifests() throws(DatasetError) -> [ManifestRecord] {
        try db.rows("SELECT name, path, sha256, query, catalog_state, sample_count, created_at FROM manifests ORDER BY created_at, name").map { row in
            ManifestRecord(name: row[0].string ?? "", path: row[1].string ?? "", sha256: row[2].string ?? "",
                           query: row[3].string ?? "", catalogState: row[4].string ?? "", count: row[5].int ?? 0,
                           createdAt: row[6].string ?? "")
        }
    }

    /// Loads manifest `name`, verifying its own hash and that it is the one the catalog recorded.
    public func manifest(named name: String) throws(DatasetError) -> Manifest {
        guard let record = try manifests().first(where: { $0.name == name }) else {
            throw DatasetError(code: "manifest.unknown", "catalog \(directory) has no manifest named '\(name)'")
        }
        let manifest = try Manifest.load(directory + "/" + record.path)
        guard manifest.sha256 == record.sha256 else {
            throw DatasetError(code: "manifest.hash-mismatch",
                               "manifest file \(record.path) has hash \(manifest.sha256) but the catalog recorded \(record.sha256)")
        }
        return manifest
    }

    /// A full statement stays as written; a bare predicate selects ids in id order.
    static func selectStatement(for query: String) -> String {
        let trimmed = query.trimmingCharacters(in: .whitespacesAndNewlines)
        let head = trimmed.prefix(7).lowercased()
        if head.hasPrefix("select") || head.hasPrefix("with") { return trimmed }
        return "SELECT id FROM samples WHERE \(trimmed) ORDER BY id"
    }

    private func entries(for sql: String) throws(DatasetError) -> [Manifest.Entry] {
        let statement = try db.prepare(sql)
        guard statement.isReadOnly else {
            throw DatasetError(code: "manifest.not-read-only", "query `\(sql)` would change the catalog; a manifest query must only read")
        }
        let lookup = try db.prepare("SELECT content_hash, path FROM samples WHERE id = ?")
        var seen: Set<String> = []
        var entries: [Manifest.Entry] = []
        while try statement.step() {
            guard case .text(let id) = statement.value(0) else {
                throw DatasetError(code: "manifest.bad-query", "query `\(sql)` returned \(statement.value(0)) as its first column; it must be a sample id")
            }
            guard seen.insert(id).inserted else {
                throw DatasetError(code: "manifest.duplicate", "query `\(sql)` returns sample \(id) more than once")
            }
            try lookup.bind([.text(id)])
            guard try lookup.step(), let hash = lookup.value(0).string, let path = lookup.value(1).string else {
                throw DatasetError(code: "manifest.unknown-sample", "query `\(sql)` returned '\(id)', which is not a sample id of \(directory)")
            }
            entries.append(Manifest.Entry(id: id, sha256: hash, path: path))
        }
        return entries
    }

    private func writeManifest(_ manifest: Manifest, at relativePath: String) throws(DatasetError) {
        let path = directory + "/" + relativePath
        do {
            try Data(manifest.jsonBytes()).write(to: URL(fileURLWithPath: path), options: .atomic)
            // Read-only on disk as a reminder that a manifest is never edited.
            try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: path)
        } catch {
            throw DatasetError(code: "manifest.unwritable", "cannot write manifest \(path): \(error.localizedDescription)")
        }
    }
}
