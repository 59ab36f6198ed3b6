import Core
import Foundation

/// A frozen, ordered list of samples: the answer to one catalog query at one catalog state,
/// stored as JSON that any tool can read and that names its own SHA-256.
///
/// `sha256` covers the format version, the query, the catalog state hash and every entry in
/// order, and nothing else: the same query over the same catalog gives the same hash whatever
/// the manifest's name or creation time, and any change to the query, the catalog or an entry
/// gives another. docs/datasets.md gives the exact bytes that are hashed.
public struct Manifest: Sendable, Equatable, Codable {
    public static let format = "grove-manifest"
    public static let formatVersion = 1

    /// One sample of the manifest.
    public struct Entry: Sendable, Equatable, Codable {
        public var id: String
        /// The sample file's content hash (its SHA-256 trailer), checked when it is decoded.
        public var sha256: String
        /// The sample file, relative to the catalog directory.
        public var path: String

        public init(id: String, sha256: String, path: String) {
            self.id = id
            self.sha256 = sha256
            self.path = path
        }
    }

    public var format: String
    public var version: Int
    public var name: String
    /// The SQL that selected the entries, as it was run.
    public var query: String
    /// `Catalog.stateHash()` when the manifest was frozen.
    public var catalogState: String
    /// ISO 8601 creation time (provenance; not hashed).
    public var createdAt: String
    public var count: Int
    public var entries: [Entry]
    public var sha256: String

    enum CodingKeys: String, CodingKey {
        case format, version, name, query, count, entries, sha256
        case catalogState = "catalog_state"
        case createdAt = "created_at"
    }

    /// A manifest with its hash computed.
    public init(name: String, query: String, catalogState: String, createdAt: String, entries: [Entry]) {
        self.format = Manifest.format
        self.version = Manifest.formatVersion
        self.name = name
        self.query = query
        self.catalogState = catalogState
        self.createdAt = createdAt
        self.count = entries.count
        self.entries = entries
        self.sha256 = ""
        self.sha256 = computedHash()
    }

    /// The SHA-256 of the manifest's canonical text (see the type's documentation).
    public func computedHash() -> String {
        var hasher = SHA256()
        hasher.update(Array("\(Manifest.format) v\(version)\nquery \(query.utf8.count):\(query)\ncatalog \(catalogState)\ncount \(entries.count)\n".utf8))
        for entry in entries { hasher.update(Array("\(entry.id)\t\(entry.sha256)\t\(entry.path)\n".utf8)) }
        return hasher.finalize().hexString
    }

    /// The manifest as pretty-printed JSON with sorted keys.
    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and integers cannot fail.
        return Array(try! encoder.encode(self)) + [UInt8(ascii: "\n")]
    }

    /// The catalog directory a manifest file belongs to (`<catalog>/manifests/<name>.json`):
    /// the root its entries' paths are relative to.
    public static func catalogDirectory(ofManifestAt path: String) -> String {
        URL(fileURLWithPath: path).deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Reads a manifest and verifies its format, count and hash.
    public static func load(_ path: String) throws(DatasetError) -> Manifest {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DatasetError(code: "manifest.unreadable", "cannot read manifest \(path): \(error.localizedDescription)")
        }
        return try decode(Array(data), origin: path)
    }

    /// Parses and verifies manifest JSON; `origin` names it in errors.
    public static func decode(_ bytes: [UInt8], origin: String) throws(DatasetError) -> Manifest {
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes)) } catch {
            throw DatasetError(code: "manifest.malformed", "manifest \(origin) is not valid manifest JSON: \(error)")
        }
        guard manifest.format == Manifest.format, manifest.version == Manifest.formatVersion else {
            throw DatasetError(code: "manifest.unknown-version",
                               "manifest \(origin) is '\(manifest.format)' version \(manifest.version); this reader understands '\(Manifest.format)' version \(Manifest.formatVersion)")
        }
        guard manifest.count == manifest.entries.count else {
            throw DatasetError(code: "manifest.bad-count", "manifest \(origin) says \(manifest.count) samples but lists \(manifest.entries.count)")
        }
        let actual = manifest.computedHash()
        guard actual == manifest.sha256 else {
            throw DatasetError(code: "manifest.hash-mismatch", "manifest \(origin) hashes to \(actual) but records \(manifest.sha256): it was altered")
        }
        return manifest
    }
}
