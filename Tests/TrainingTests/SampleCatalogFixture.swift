import Core
import Dataset
import Foundation
import Wire
@testable import Training

/// A small catalog on disk — sample files and a manifest, laid out as `coordinator dataset freeze`
/// leaves them — for the sample server and client tests.
struct SampleCatalogFixture {
    let root: String
    let manifestPath: String
    let manifest: Manifest

    init(samples: Int = 6, side: Int = 16) throws {
        root = NSTemporaryDirectory() + "grove-catalog-\(UUID().uuidString.prefix(8))"
        var entries: [Manifest.Entry] = []
        for index in 0..<samples {
            let tile = Self.tile(id: String(format: "s-%04d", index), side: side, seed: index)
            let (bytes, hash) = SampleFile.encodeWithContentHash(tile)
            let relative = "samples/\(hash.prefix(2))/\(tile.id).gts.gz"
            try FileManager.default.createDirectory(atPath: root + "/samples/\(hash.prefix(2))", withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + relative))
            entries.append(Manifest.Entry(id: tile.id, sha256: hash, path: relative))
        }
        // A file of the catalog that is not in the run.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: root + "/catalog.sqlite"))
        manifest = Manifest(name: "m", query: "all", catalogState: String(repeating: "0", count: 64), createdAt: "2026-01-01T00:00:00Z",
                            entries: entries)
        try FileManager.default.createDirectory(atPath: root + "/manifests", withIntermediateDirectories: true)
        manifestPath = root + "/manifests/m.json"
        try Data(manifest.jsonBytes()).write(to: URL(fileURLWithPath: manifestPath))
    }

    static func tile(id: String, side: Int, seed: Int) -> Tile {
        let count = side * side
        let pixels = (0..<3 * count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7) }
        let canopy = (0..<count).map { UInt8(($0 + seed) % 3 == 0 ? 1 : 0) }
        let instances = canopy.map { UInt16($0) }
        let trees = [TreeInstance(id: 1, centerX: 2.5, centerY: 1.25, radius: 3, visiblePixels: canopy.filter { $0 == 1 }.count)]
        return Tile(id: id, width: side, height: side, bands: 3, groundSampleDistance: 0.1, pixels: pixels, canopy: canopy,
                    instances: instances, trees: trees)
    }

    /// The service the coordinator would run for this catalog's manifest.
    func service(maxFileBytes: Int = 64 << 20) throws -> SampleService {
        let index = [Self.indexed("manifests/m.json", root: root)]
        return SampleService(root: root, index: index, samplePaths: manifest.entries.map(\.path), maxFileBytes: maxFileBytes)
    }

    static func indexed(_ relative: String, root: String) -> Wire.IndexedFile {
        let bytes = (try? LocalDirectorySource(root: root).read(path: relative)) ?? []
        return Wire.IndexedFile(path: relative, size: UInt64(bytes.count), sha256: SHA256.hash(bytes))
    }

    static func scratch() -> String {
        let path = NSTemporaryDirectory() + "grove-cache-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
